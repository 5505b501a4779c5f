import CSodium

/// XChaCha20-Poly1305 (IETF), the authenticated cipher of every shard and every wrapped key.
///
/// XChaCha20's subkey and nonce over `ChaChaPoly` (bytes as libsodium's
/// `crypto_aead_xchacha20poly1305_ietf_*_detached`, which the known-answer tests pin). Message and
/// ciphertext may be the same buffer, which lets the codec encrypt shards in place without a copy.
public enum XChaCha20Poly1305 {
    public static let keyLength = Int(crypto_aead_xchacha20poly1305_ietf_KEYBYTES)  // 32
    public static let nonceLength = Int(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)  // 24
    public static let tagLength = Int(crypto_aead_xchacha20poly1305_ietf_ABYTES)  // 16

    /// Encrypts `buffer` in place and writes the 16-byte tag to `tag`.
    /// Traps on wrong key, nonce or tag sizes: those are programming errors, never input.
    public static func sealInPlace(
        _ buffer: UnsafeMutableRawBufferPointer,
        tag: UnsafeMutableRawBufferPointer,
        nonce: UnsafeRawBufferPointer,
        additionalData: UnsafeRawBufferPointer,
        key: SecretBytes
    ) {
        precondition(nonce.count == nonceLength && tag.count == tagLength && key.count == keyLength)
        key.withUnsafeBytes { k in
            ChaChaPoly.withExtendedNonce(key: k.bytePointer, nonce: nonce.bytePointer) { subkey, shortNonce in
                ChaChaPoly.seal(key: subkey, nonce: shortNonce, ad: additionalData, text: buffer, tag: tag.mutableBytePointer)
            }
        }
    }

    /// Verifies `tag` over `ciphertext` and `additionalData`, then writes the plaintext to `output`
    /// (which may be the same memory as `ciphertext`). Throws `.authenticationFailed` and leaves
    /// `output` unspecified on any alteration.
    public static func open(
        _ ciphertext: UnsafeRawBufferPointer,
        tag: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer,
        nonce: UnsafeRawBufferPointer,
        additionalData: UnsafeRawBufferPointer,
        key: SecretBytes
    ) throws(CryptoError) {
        precondition(nonce.count == nonceLength && key.count == keyLength && output.count >= ciphertext.count)
        guard tag.count == tagLength else { throw .invalidLength(what: "tag", expected: tagLength, got: tag.count) }
        let authentic = key.withUnsafeBytes { k in
            ChaChaPoly.withExtendedNonce(key: k.bytePointer, nonce: nonce.bytePointer) { subkey, shortNonce in
                ChaChaPoly.open(key: subkey, nonce: shortNonce, ad: additionalData, ciphertext: ciphertext,
                                into: UnsafeMutableRawBufferPointer(rebasing: output[0..<ciphertext.count]), tag: tag.bytePointer)
            }
        }
        guard authentic else { throw .authenticationFailed }
    }

    /// Convenience for small messages (wrapped keys): returns nonce-free `ciphertext || tag`.
    public static func seal(_ plaintext: [UInt8], nonce: [UInt8], additionalData: [UInt8], key: SecretBytes) -> [UInt8] {
        var out = plaintext + [UInt8](repeating: 0, count: tagLength)
        let n = plaintext.count
        out.withUnsafeMutableBytes { buffer in
            nonce.withUnsafeBytes { nonce in
                additionalData.withUnsafeBytes { ad in
                    sealInPlace(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n]),
                                tag: UnsafeMutableRawBufferPointer(rebasing: buffer[n...]),
                                nonce: nonce, additionalData: ad, key: key)
                }
            }
        }
        return out
    }

    /// Opens `ciphertext || tag` made by `seal`. The plaintext goes to guarded memory.
    public static func open(_ sealed: [UInt8], nonce: [UInt8], additionalData: [UInt8], key: SecretBytes) throws(CryptoError) -> SecretBytes {
        guard sealed.count >= tagLength else {
            throw .invalidLength(what: "sealed message", expected: tagLength, got: sealed.count)
        }
        let n = sealed.count - tagLength
        do {
            return try SecretBytes(count: n) { output in
                try sealed.withUnsafeBytes { s in
                    try nonce.withUnsafeBytes { nonce in
                        try additionalData.withUnsafeBytes { ad in
                            try open(UnsafeRawBufferPointer(rebasing: s[0..<n]),
                                     tag: UnsafeRawBufferPointer(rebasing: s[n...]),
                                     into: output, nonce: nonce, additionalData: ad, key: key)
                        }
                    }
                }
            }
        } catch let error as CryptoError {
            throw error
        } catch {
            throw .primitiveFailed("open")
        }
    }
}
