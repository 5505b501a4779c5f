/// Noise spec §5.1 CipherState: a ChaChaPoly key `k` (possibly empty) and a 64-bit nonce `n`.
///
/// A class so that a state is never copied: two copies would reuse nonces. Not thread safe; its owner
/// (a handshake or one direction of a transport) serialises the calls.
final class NoiseCipherState {
    /// k, valid when `hasKey`; wiped when the state is dropped.
    private let key = NoiseSecretBuffer(count: NoiseSuite.keyLength)
    /// Whether k is non-empty (spec: HasKey()).
    private(set) var hasKey = false
    /// n, the nonce of the next message.
    private(set) var nonce: UInt64 = 0

    init() {}

    /// InitializeKey(key): copies the first 32 bytes of `newKey` and sets n = 0. Spec §5.2 truncates the
    /// 64-byte HKDF outputs to 32 bytes, which this does by taking the prefix.
    func initializeKey(_ newKey: UnsafeRawBufferPointer) {
        precondition(newKey.count >= NoiseSuite.keyLength)
        key.bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: newKey[0..<NoiseSuite.keyLength]))
        hasKey = true
        nonce = 0
    }

    /// EncryptWithAd for a state with a key: encrypts `text` in place, writes the tag into `tag`, and
    /// increments n. Throws `.nonceExhausted` once n reached 2^64-1 (spec §5.1), changing nothing.
    func encrypt(ad: UnsafeRawBufferPointer, text: UnsafeMutableRawBufferPointer,
                 tag: UnsafeMutableRawBufferPointer) throws(NoiseError) {
        precondition(hasKey, "EncryptWithAd without a key is the identity; callers handle it")
        guard nonce < NoiseSuite.maxNonce else { throw .nonceExhausted }
        NoiseSuite.encrypt(key: key.readOnly, nonce: nonce, ad: ad, text: text, tag: tag)
        nonce += 1
    }

    /// DecryptWithAd for a state with a key: verifies `tag`, decrypts `text` in place and increments n.
    /// On `.authenticationFailed` n is unchanged (spec §5.1) and `text` is zeroed.
    func decrypt(ad: UnsafeRawBufferPointer, text: UnsafeMutableRawBufferPointer,
                 tag: UnsafeRawBufferPointer) throws(NoiseError) {
        precondition(hasKey, "DecryptWithAd without a key is the identity; callers handle it")
        guard nonce < NoiseSuite.maxNonce else { throw .nonceExhausted }
        guard NoiseSuite.decrypt(key: key.readOnly, nonce: nonce, ad: ad, text: text, tag: tag) else {
            throw .authenticationFailed
        }
        nonce += 1
    }

    /// DecryptWithAd into separate memory; on failure n is unchanged and `output` is unspecified.
    func decrypt(ad: UnsafeRawBufferPointer, ciphertext: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                 tag: UnsafeRawBufferPointer) throws(NoiseError) {
        precondition(hasKey, "DecryptWithAd without a key is the identity; callers handle it")
        guard nonce < NoiseSuite.maxNonce else { throw .nonceExhausted }
        guard NoiseSuite.decrypt(key: key.readOnly, nonce: nonce, ad: ad, ciphertext: ciphertext, into: output, tag: tag) else {
            throw .authenticationFailed
        }
        nonce += 1
    }

    /// Rekey(): k = REKEY(k), the first 32 bytes of ENCRYPT(k, 2^64-1, zerolen, 32 zero bytes)
    /// (spec §4.2 and §5.1). The nonce is unchanged.
    func rekey() {
        precondition(hasKey, "Rekey needs a key")
        withUnsafeTemporaryAllocation(byteCount: NoiseSuite.keyLength + NoiseSuite.tagLength, alignment: 8) { buf in
            buf.initializeMemory(as: UInt8.self, repeating: 0)
            let text = UnsafeMutableRawBufferPointer(rebasing: buf[0..<NoiseSuite.keyLength])
            let tag = UnsafeMutableRawBufferPointer(rebasing: buf[NoiseSuite.keyLength...])
            NoiseSuite.encrypt(key: key.readOnly, nonce: NoiseSuite.maxNonce,
                               ad: UnsafeRawBufferPointer(start: nil, count: 0), text: text, tag: tag)
            key.bytes.copyMemory(from: UnsafeRawBufferPointer(text))
            NoiseSuite.wipe(buf)
        }
    }

    /// For tests of the nonce limit only (spec: SetNonce).
    func setNonce(_ n: UInt64) { nonce = n }
}
