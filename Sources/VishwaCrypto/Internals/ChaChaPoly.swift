import COpenSSL
import CSodium

/// ChaCha20-Poly1305 (RFC 8439: 256-bit key, 96-bit nonce, detached 16-byte tag), the AEAD under
/// both XChaCha20-Poly1305 (shards, wrapped keys) and Noise's ChaChaPoly (the transport).
///
/// Messages of `bulkBytes` or more (data plus additional data) go to OpenSSL's libcrypto, whose
/// AVX-512 code is the faster here: 3.5 GB/s against libsodium 1.0.18's 1.0 GB/s for a 64 KiB
/// message, 11 against 1.6 GB/s when the bytes are additional data only (a clear record's). Smaller
/// ones stay with libsodium, whose call costs less (0.5 µs against 1 µs for 64 bytes). Both give
/// the same bytes, which the tests check across the boundary.
enum ChaChaPoly {
    static let bulkBytes = 1024

    /// Encrypts `text` in place and writes the tag.
    static func seal(key: UnsafePointer<UInt8>, nonce: UnsafePointer<UInt8>, ad: UnsafeRawBufferPointer,
                     text: UnsafeMutableRawBufferPointer, tag: UnsafeMutablePointer<UInt8>) {
        if text.count + ad.count >= bulkBytes,
           vishwa_chachapoly_seal(key, nonce, ad.bytePointer, ad.count, text.mutableBytePointer, text.count, tag) == 1 {
            return
        }
        // Small, or OpenSSL could not run (it then wrote nothing usable): libsodium.
        Sodium.ensureInitialized()
        _ = crypto_aead_chacha20poly1305_ietf_encrypt_detached(
            text.mutableBytePointer, tag, nil, UnsafeRawBufferPointer(text).bytePointer, UInt64(text.count),
            ad.bytePointer, UInt64(ad.count), nil, nonce, key)
    }

    /// Checks `tag` over `ad` and `ciphertext`, then writes the plaintext to `output` (at least
    /// `ciphertext.count` bytes; may be the same memory). False on an authentication failure,
    /// with `output` zeroed.
    static func open(key: UnsafePointer<UInt8>, nonce: UnsafePointer<UInt8>, ad: UnsafeRawBufferPointer,
                     ciphertext: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                     tag: UnsafePointer<UInt8>) -> Bool {
        if ciphertext.count + ad.count >= bulkBytes {
            let result = vishwa_chachapoly_open(key, nonce, ad.bytePointer, ad.count, ciphertext.bytePointer,
                                                output.mutableBytePointer, ciphertext.count, tag)
            if result >= 0 { return result == 1 }
            // OpenSSL could not run; it wrote nothing: libsodium.
        }
        Sodium.ensureInitialized()
        let status = crypto_aead_chacha20poly1305_ietf_decrypt_detached(
            output.mutableBytePointer, nil, ciphertext.bytePointer, UInt64(ciphertext.count), tag,
            ad.bytePointer, UInt64(ad.count), nonce, key)
        if status != 0 { sodium_memzero(output.mutableBytePointer, ciphertext.count) }
        return status == 0
    }

    /// XChaCha20's construction (draft-irtf-cfrg-xchacha): the subkey HChaCha20(key, first 16 bytes
    /// of the 24-byte nonce), and the nonce 4 zero bytes then its last 8. The subkey lives on the
    /// stack for `body` only and is wiped after.
    static func withExtendedNonce<R>(key: UnsafePointer<UInt8>, nonce: UnsafePointer<UInt8>,
                                     _ body: (UnsafePointer<UInt8>, UnsafePointer<UInt8>) -> R) -> R {
        withUnsafeTemporaryAllocation(byteCount: 32 + 12, alignment: 16) { scratch in
            let subkey = scratch.mutableBytePointer, shortNonce = subkey + 32
            Sodium.ensureInitialized()
            _ = crypto_core_hchacha20(subkey, nonce, key, nil)
            shortNonce.update(repeating: 0, count: 4)
            (shortNonce + 4).update(from: nonce + 16, count: 8)
            defer { sodium_memzero(subkey, 32) }
            return body(subkey, shortNonce)
        }
    }
}
