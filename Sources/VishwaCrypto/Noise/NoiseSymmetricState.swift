/// Noise spec §5.2 SymmetricState: the chaining key `ck`, the handshake hash `h`, and a CipherState.
///
/// Message bytes are processed in place in caller-owned buffers. Not thread safe; owned by one
/// `NoiseHandshake`.
final class NoiseSymmetricState {
    let cipher = NoiseCipherState()
    /// ck, secret; wiped when the state is dropped.
    private let chainingKey = NoiseSecretBuffer(count: NoiseSuite.hashLength)
    /// h, the handshake hash (public: it only binds the transcript).
    private(set) var handshakeHash: [UInt8]

    /// InitializeSymmetric(protocol_name): h = protocol_name zero-padded to HASHLEN if it fits,
    /// else HASH(protocol_name); ck = h; k empty.
    init(protocolName: [UInt8]) {
        if protocolName.count <= NoiseSuite.hashLength {
            handshakeHash = protocolName + [UInt8](repeating: 0, count: NoiseSuite.hashLength - protocolName.count)
        } else {
            var h = [UInt8](repeating: 0, count: NoiseSuite.hashLength)
            h.withUnsafeMutableBytes { out in
                protocolName.withUnsafeBytes { name in NoiseSuite.hash(into: out) { $0.update(name) } }
            }
            handshakeHash = h
        }
        handshakeHash.withUnsafeBytes { chainingKey.bytes.copyMemory(from: $0) }
    }

    /// MixKey(ikm): ck, temp_k = HKDF(ck, ikm, 2); InitializeKey(temp_k truncated to 32 bytes).
    func mixKey(_ inputKeyMaterial: UnsafeRawBufferPointer) {
        withUnsafeTemporaryAllocation(byteCount: NoiseSuite.hashLength, alignment: 8) { tempKey in
            NoiseSuite.hkdf(chainingKey: chainingKey.readOnly, inputKeyMaterial: inputKeyMaterial,
                            output1: chainingKey.bytes, output2: tempKey)
            cipher.initializeKey(UnsafeRawBufferPointer(tempKey))
            NoiseSuite.wipe(tempKey)
        }
    }

    /// MixHash(data): h = HASH(h || data).
    func mixHash(_ data: UnsafeRawBufferPointer) {
        handshakeHash.withUnsafeMutableBytes { h in
            NoiseSuite.hash(into: h) { input in
                input.update(UnsafeRawBufferPointer(h))
                input.update(data)
            }
        }
    }

    /// MixKeyAndHash(ikm): ck, temp_h, temp_k = HKDF(ck, ikm, 3); MixHash(temp_h);
    /// InitializeKey(temp_k truncated). Used by PSK patterns only; XX does not call it.
    func mixKeyAndHash(_ inputKeyMaterial: UnsafeRawBufferPointer) {
        withUnsafeTemporaryAllocation(byteCount: 2 * NoiseSuite.hashLength, alignment: 8) { temp in
            let tempH = UnsafeMutableRawBufferPointer(rebasing: temp[0..<NoiseSuite.hashLength])
            let tempK = UnsafeMutableRawBufferPointer(rebasing: temp[NoiseSuite.hashLength...])
            NoiseSuite.hkdf(chainingKey: chainingKey.readOnly, inputKeyMaterial: inputKeyMaterial,
                            output1: chainingKey.bytes, output2: tempH, output3: tempK)
            mixHash(UnsafeRawBufferPointer(tempH))
            cipher.initializeKey(UnsafeRawBufferPointer(tempK))
            NoiseSuite.wipe(temp)
        }
    }

    /// Bytes EncryptAndHash adds to a plaintext: the tag once a key is set.
    var overhead: Int { cipher.hasKey ? NoiseSuite.tagLength : 0 }

    /// EncryptAndHash: `buffer` holds the plaintext followed by `overhead` spare bytes; on return it holds
    /// the ciphertext (ciphertext || tag, or the plaintext itself while k is empty), and h includes it.
    func encryptAndHash(_ buffer: UnsafeMutableRawBufferPointer) throws(NoiseError) {
        if cipher.hasKey {
            precondition(buffer.count >= NoiseSuite.tagLength)
            let split = buffer.count - NoiseSuite.tagLength
            try handshakeHash.withBytes { (ad) throws(NoiseError) in
                try cipher.encrypt(ad: ad, text: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<split]),
                                   tag: UnsafeMutableRawBufferPointer(rebasing: buffer[split...]))
            }
        }
        mixHash(UnsafeRawBufferPointer(buffer))
    }

    /// DecryptAndHash: `buffer` holds a ciphertext (with its tag once k is set, so at least `overhead`
    /// bytes, which the caller checked); on success its first `count - overhead` bytes are the plaintext
    /// and h includes the ciphertext. Throws `.authenticationFailed` and leaves h unchanged otherwise.
    func decryptAndHash(_ buffer: UnsafeMutableRawBufferPointer) throws(NoiseError) {
        guard cipher.hasKey else {
            mixHash(UnsafeRawBufferPointer(buffer))
            return
        }
        precondition(buffer.count >= NoiseSuite.tagLength)
        // h must absorb the ciphertext, which in-place decryption overwrites: hash it first and keep the
        // old h as the associated data (spec: plaintext = DecryptWithAd(h, c); MixHash(c)).
        let oldHash = handshakeHash
        mixHash(UnsafeRawBufferPointer(buffer))
        let split = buffer.count - NoiseSuite.tagLength
        do throws(NoiseError) {
            try oldHash.withBytes { (ad) throws(NoiseError) in
                try cipher.decrypt(ad: ad, text: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<split]),
                                   tag: UnsafeRawBufferPointer(rebasing: buffer[split...]))
            }
        } catch {
            handshakeHash = oldHash
            throw error
        }
    }

    /// Split(): temp_k1, temp_k2 = HKDF(ck, zerolen, 2); two CipherStates keyed with their first 32 bytes.
    /// The first is the initiator's sending direction.
    func split() -> (NoiseCipherState, NoiseCipherState) {
        let c1 = NoiseCipherState(), c2 = NoiseCipherState()
        withUnsafeTemporaryAllocation(byteCount: 2 * NoiseSuite.hashLength, alignment: 8) { temp in
            let k1 = UnsafeMutableRawBufferPointer(rebasing: temp[0..<NoiseSuite.hashLength])
            let k2 = UnsafeMutableRawBufferPointer(rebasing: temp[NoiseSuite.hashLength...])
            NoiseSuite.hkdf(chainingKey: chainingKey.readOnly,
                            inputKeyMaterial: UnsafeRawBufferPointer(start: nil, count: 0),
                            output1: k1, output2: k2)
            c1.initializeKey(UnsafeRawBufferPointer(k1))
            c2.initializeKey(UnsafeRawBufferPointer(k2))
            NoiseSuite.wipe(temp)
        }
        return (c1, c2)
    }
}
