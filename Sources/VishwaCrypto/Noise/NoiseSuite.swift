import CSodium

/// The crypto functions of Noise_*_25519_ChaChaPoly_BLAKE2b (Noise spec rev 34, §4 and §12), on libsodium.
///
/// This is the only file of the Noise code that calls libsodium; every function is a thin wrapper that
/// takes and fills caller-owned buffers, so the states above it can keep secrets out of Swift arrays.
/// Sizes are checked with `precondition`: the callers compute them from constants, never from input.
enum NoiseSuite {
    /// DHLEN: X25519 public keys and shared secrets (spec §12.1).
    static let dhLength = 32
    /// ChaChaPoly key length (spec §5.1: 32 bytes).
    static let keyLength = 32
    /// ChaChaPoly authentication tag.
    static let tagLength = 16
    /// HASHLEN of BLAKE2b (spec §12.8).
    static let hashLength = 64
    /// BLOCKLEN of BLAKE2b, the HMAC block size (spec §12.8).
    static let blockLength = 128
    /// Noise reserves nonce 2^64-1 (spec §5.1) and Rekey uses it (spec §4.2).
    static let maxNonce = UInt64.max

    // MARK: DH (spec §12.1)

    /// X25519(`secretKey`, `publicKey`) into `out`. Wraps `crypto_scalarmult`.
    ///
    /// Throws `.invalidRemoteKey` when the result is all zeros (a low-order peer key), leaving `out` zeroed.
    static func dh(secretKey: SecretBytes, publicKey: UnsafeRawBufferPointer,
                   into out: UnsafeMutableRawBufferPointer) throws(NoiseError) {
        precondition(secretKey.count == dhLength && publicKey.count == dhLength && out.count == dhLength)
        Sodium.ensureInitialized()
        let status = secretKey.withUnsafeBytes { sk in
            crypto_scalarmult(out.mutableBytePointer, sk.bytePointer, publicKey.bytePointer)
        }
        // libsodium already returns -1 for an all-zero result; test again so the rule does not
        // depend on the library version.
        guard status == 0, sodium_is_zero(UnsafeRawBufferPointer(out).bytePointer, dhLength) == 0 else {
            sodium_memzero(out.mutableBytePointer, dhLength)
            throw .invalidRemoteKey
        }
    }

    // MARK: ChaChaPoly (spec §12.3)

    /// ENCRYPT(k, n, ad, plaintext): encrypts `text` in place and writes the tag to `tag`.
    static func encrypt(key: UnsafeRawBufferPointer, nonce: UInt64, ad: UnsafeRawBufferPointer,
                        text: UnsafeMutableRawBufferPointer, tag: UnsafeMutableRawBufferPointer) {
        precondition(key.count == keyLength && tag.count == tagLength)
        withNonce(nonce) { npub in
            ChaChaPoly.seal(key: key.bytePointer, nonce: npub, ad: ad, text: text, tag: tag.mutableBytePointer)
        }
    }

    /// DECRYPT(k, n, ad, ciphertext): checks `tag`, then decrypts `text` in place. Returns false on an
    /// authentication failure, with `text` zeroed.
    static func decrypt(key: UnsafeRawBufferPointer, nonce: UInt64, ad: UnsafeRawBufferPointer,
                        text: UnsafeMutableRawBufferPointer, tag: UnsafeRawBufferPointer) -> Bool {
        decrypt(key: key, nonce: nonce, ad: ad, ciphertext: UnsafeRawBufferPointer(text), into: text, tag: tag)
    }

    /// DECRYPT into separate memory: checks `tag` over `ciphertext`, then writes the plaintext to
    /// `output` (at least `ciphertext.count` bytes). Returns false on an authentication failure.
    static func decrypt(key: UnsafeRawBufferPointer, nonce: UInt64, ad: UnsafeRawBufferPointer,
                        ciphertext: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                        tag: UnsafeRawBufferPointer) -> Bool {
        precondition(key.count == keyLength && tag.count == tagLength && output.count >= ciphertext.count)
        return withNonce(nonce) { npub in
            ChaChaPoly.open(key: key.bytePointer, nonce: npub, ad: ad, ciphertext: ciphertext, into: output, tag: tag.bytePointer)
        }
    }

    /// Spec §12.3: "96-bit nonce is formed by encoding 32 bits of zeros followed by little-endian
    /// encoding of n". Lives on the stack for the duration of `body`.
    private static func withNonce<R>(_ n: UInt64, _ body: (UnsafePointer<UInt8>) -> R) -> R {
        withUnsafeTemporaryAllocation(byteCount: 12, alignment: 4) { nonce in
            nonce.storeBytes(of: 0, toByteOffset: 0, as: UInt32.self)
            nonce.storeBytes(of: n.littleEndian, toByteOffset: 4, as: UInt64.self)
            return body(UnsafeRawBufferPointer(nonce).bytePointer)
        }
    }

    // MARK: BLAKE2b, HMAC, HKDF (spec §4.3, §12.8)

    /// The data side of a running BLAKE2b: what `hash(into:_:)` lends to its body. Valid only inside it.
    struct HashInput {
        fileprivate let state: OpaquePointer

        /// Appends `part` to the hashed data (`crypto_generichash_update`).
        func update(_ part: UnsafeRawBufferPointer) {
            _ = crypto_generichash_update(state, part.bytePointer, UInt64(part.count))
        }
    }

    /// HASH(concatenation of whatever `feed` passes to `input.update`) into `out` (64 bytes).
    /// Wraps `crypto_generichash_{init,update,final}`; the state is on the stack and wiped afterwards.
    /// `out` may be one of the fed buffers: every update is consumed before the final write.
    static func hash(into out: UnsafeMutableRawBufferPointer, _ feed: (_ input: HashInput) -> Void) {
        precondition(out.count == hashLength)
        Sodium.ensureInitialized()
        // crypto_generichash_state is declared CRYPTO_ALIGN(64), so Swift imports it only as an opaque
        // pointer; allocate crypto_generichash_statebytes() with that alignment ourselves.
        withUnsafeTemporaryAllocation(byteCount: crypto_generichash_statebytes(), alignment: 64) { raw in
            let state = OpaquePointer(raw.baseAddress!)
            _ = crypto_generichash_init(state, nil, 0, hashLength)
            feed(HashInput(state: state))
            _ = crypto_generichash_final(state, out.mutableBytePointer, hashLength)
            sodium_memzero(raw.baseAddress!, raw.count)
        }
    }

    /// HMAC-BLAKE2b(key, data) into `out` (64 bytes), per RFC 2104 with BLAKE2b's 128-byte block as the
    /// Noise spec requires (§4.3), not BLAKE2b's own keyed mode. `data` is what `feed` passes to `input.update`.
    static func hmac(key: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer,
                     _ feed: (_ input: HashInput) -> Void) {
        precondition(out.count == hashLength)
        withUnsafeTemporaryAllocation(byteCount: blockLength + hashLength, alignment: 8) { scratch in
            let pad = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<blockLength])
            let inner = UnsafeMutableRawBufferPointer(rebasing: scratch[blockLength...])
            // RFC 2104 §2: a key longer than the block is hashed first; the key is then zero-padded.
            pad.initializeMemory(as: UInt8.self, repeating: 0)
            if key.count > blockLength {
                hash(into: UnsafeMutableRawBufferPointer(rebasing: pad[0..<hashLength])) { $0.update(key) }
            } else {
                pad.copyMemory(from: key)
            }
            for i in 0..<blockLength { pad[i] ^= 0x36 }
            hash(into: inner) { input in
                input.update(UnsafeRawBufferPointer(pad))
                feed(input)
            }
            for i in 0..<blockLength { pad[i] ^= 0x36 ^ 0x5c }
            hash(into: out) { input in
                input.update(UnsafeRawBufferPointer(pad))
                input.update(UnsafeRawBufferPointer(inner))
            }
            sodium_memzero(scratch.baseAddress!, scratch.count)
        }
    }

    /// HKDF(chaining_key, input_key_material, 2 or 3) of spec §4.3, each output `hashLength` bytes.
    ///
    /// `output1` may be the chaining key's own memory: the chaining key is read only in the first step.
    static func hkdf(chainingKey: UnsafeRawBufferPointer, inputKeyMaterial: UnsafeRawBufferPointer,
                     output1: UnsafeMutableRawBufferPointer, output2: UnsafeMutableRawBufferPointer,
                     output3: UnsafeMutableRawBufferPointer? = nil) {
        precondition(chainingKey.count == hashLength)
        withUnsafeTemporaryAllocation(byteCount: hashLength, alignment: 8) { tempKey in
            hmac(key: chainingKey, into: tempKey) { $0.update(inputKeyMaterial) }
            let key = UnsafeRawBufferPointer(tempKey)
            hmac(key: key, into: output1) { input in withUnsafeBytes(of: UInt8(1)) { input.update($0) } }
            hmac(key: key, into: output2) { input in
                input.update(UnsafeRawBufferPointer(output1))
                withUnsafeBytes(of: UInt8(2)) { input.update($0) }
            }
            if let output3 {
                hmac(key: key, into: output3) { input in
                    input.update(UnsafeRawBufferPointer(output2))
                    withUnsafeBytes(of: UInt8(3)) { input.update($0) }
                }
            }
            sodium_memzero(tempKey.baseAddress!, tempKey.count)
        }
    }

    /// Overwrites `buffer` with zeros (`sodium_memzero`, which the compiler may not drop).
    static func wipe(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        sodium_memzero(base, buffer.count)
    }
}

extension NoiseSuite {
    /// HMAC-BLAKE2b over arrays, for tests and one-off use.
    static func hmac(key: [UInt8], data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: hashLength)
        key.withUnsafeBytes { k in
            data.withUnsafeBytes { d in
                out.withUnsafeMutableBytes { o in hmac(key: k, into: o) { $0.update(d) } }
            }
        }
        return out
    }

    /// HKDF with three outputs over arrays, for tests.
    static func hkdf(chainingKey: [UInt8], inputKeyMaterial: [UInt8]) -> ([UInt8], [UInt8], [UInt8]) {
        var o1 = [UInt8](repeating: 0, count: hashLength), o2 = o1, o3 = o1
        chainingKey.withUnsafeBytes { ck in
            inputKeyMaterial.withUnsafeBytes { ikm in
                o1.withUnsafeMutableBytes { a in
                    o2.withUnsafeMutableBytes { b in
                        o3.withUnsafeMutableBytes { c in
                            hkdf(chainingKey: ck, inputKeyMaterial: ikm, output1: a, output2: b, output3: c)
                        }
                    }
                }
            }
        }
        return (o1, o2, o3)
    }
}

extension Array where Element == UInt8 {
    /// `withUnsafeBytes` that keeps a typed error (the standard one is untyped `rethrows`).
    func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let result: Result<R, E> = withUnsafeBytes { bytes in Result { () throws(E) -> R in try body(bytes) } }
        return try result.get()
    }

    /// `withUnsafeMutableBytes` that keeps a typed error.
    mutating func withMutableBytes<R, E: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        let result: Result<R, E> = withUnsafeMutableBytes { bytes in Result { () throws(E) -> R in try body(bytes) } }
        return try result.get()
    }
}
