/// The two transport CipherStates of a finished Noise handshake (spec §5.2 Split), one per direction,
/// plus what the handshake established about the peer.
///
/// A transport message is `ciphertext || 16-byte tag`, at most 65535 bytes, so a plaintext is at most
/// 65519 bytes; the associated data is empty. Messages must be decrypted in the order they were sent: each
/// direction has a 64-bit counter nonce, so a replayed, dropped or reordered message fails authentication.
///
/// A class so it is never copied (a copy would reuse nonces). Not thread safe: the sending calls and the
/// receiving calls each need one caller at a time (one event loop, or one lock per direction; the two
/// directions share no state). Keys live in `sodium_malloc`'d memory wiped when the transport is dropped.
/// Nothing here traps on input: every bad length or ciphertext throws `NoiseError`.
public final class NoiseTransport {
    /// The largest transport message (spec §3).
    public static let maxMessageLength = 65535
    /// The ChaChaPoly tag at the end of each message.
    public static let tagLength = 16
    /// The largest plaintext of one message.
    public static let maxPlaintextLength = maxMessageLength - tagLength

    private let sending: NoiseCipherState
    private let receiving: NoiseCipherState

    /// The final handshake hash (64 bytes), identical on both sides: a channel-binding value (spec §11.2).
    public let handshakeHash: [UInt8]
    /// The peer's static X25519 public key (32 bytes), authenticated by the handshake. Compare it with the
    /// pinned key before sending anything that matters.
    public let remoteStaticKey: [UInt8]

    init(sending: NoiseCipherState, receiving: NoiseCipherState, handshakeHash: [UInt8], remoteStaticKey: [UInt8]) {
        self.sending = sending
        self.receiving = receiving
        self.handshakeHash = handshakeHash
        self.remoteStaticKey = remoteStaticKey
    }

    /// Number of messages sent so far (the next sending nonce), for a rekey or reconnect policy.
    public var sentCount: UInt64 { sending.nonce }
    /// Number of messages received so far (the next receiving nonce).
    public var receivedCount: UInt64 { receiving.nonce }

    /// Encrypts in place. `message` holds the plaintext followed by 16 spare bytes; on return it holds the
    /// transport message (ciphertext || tag), ready to send. No allocation.
    ///
    /// Throws `.messageTooLarge` past 65535 bytes, `.messageTooShort` below 16, `.nonceExhausted` after
    /// 2^64-1 messages; `message` is unchanged then.
    ///
    /// `ad` is bound into the tag without being carried in the message (EncryptWithAd's associated
    /// data): the receiver must pass the same bytes. Empty for plain transport messages.
    public func encryptInPlace(_ message: UnsafeMutableRawBufferPointer,
                               ad: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) throws(NoiseError) {
        let (text, tag) = try Self.split(message)
        try sending.encrypt(ad: ad, text: text, tag: tag)
    }

    /// Decrypts in place. `message` holds a transport message; on success its first `message.count - 16`
    /// bytes are the plaintext, and that count is returned. No allocation.
    ///
    /// Throws `.messageTooLarge`, `.messageTooShort` (under 16 bytes), `.nonceExhausted`, or
    /// `.authenticationFailed` (altered, replayed, reordered or foreign message), in which case the
    /// receiving nonce does not advance and libsodium has zeroed the ciphertext part of `message`.
    @discardableResult
    public func decryptInPlace(_ message: UnsafeMutableRawBufferPointer) throws(NoiseError) -> Int {
        let (text, tag) = try Self.split(message)
        try receiving.decrypt(ad: UnsafeRawBufferPointer(start: nil, count: 0), text: text,
                              tag: UnsafeRawBufferPointer(tag))
        return text.count
    }

    /// Decrypts a transport message into `output` (at least `message.count - 16` bytes), leaving the
    /// message untouched; returns the plaintext length. `ad` as the sender passed it to
    /// `encryptInPlace`. Throws as `decryptInPlace`. No allocation.
    @discardableResult
    public func decrypt(_ message: UnsafeRawBufferPointer, ad: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                        into output: UnsafeMutableRawBufferPointer) throws(NoiseError) -> Int {
        guard message.count <= Self.maxMessageLength else { throw .messageTooLarge(length: message.count) }
        guard message.count >= Self.tagLength else {
            throw .messageTooShort(length: message.count, minimum: Self.tagLength)
        }
        let end = message.count - Self.tagLength
        precondition(output.count >= end)
        try receiving.decrypt(ad: ad, ciphertext: UnsafeRawBufferPointer(rebasing: message[0..<end]),
                              into: UnsafeMutableRawBufferPointer(rebasing: output[0..<end]),
                              tag: UnsafeRawBufferPointer(rebasing: message[end...]))
        return end
    }

    /// Encrypts `plaintext` (at most 65519 bytes) into a new transport message. Throws as `encryptInPlace`.
    public func encrypt(_ plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        var message = plaintext
        message.append(contentsOf: repeatElement(0, count: Self.tagLength))
        try message.withMutableBytes { (bytes) throws(NoiseError) in try encryptInPlace(bytes) }
        return message
    }

    /// Decrypts a transport message into a new array. Throws as `decryptInPlace`.
    public func decrypt(_ message: [UInt8]) throws(NoiseError) -> [UInt8] {
        var buffer = message
        let count = try buffer.withMutableBytes { (bytes) throws(NoiseError) in try decryptInPlace(bytes) }
        buffer.removeLast(buffer.count - count)
        return buffer
    }

    /// Rekey() of the sending CipherState (spec §11.3). The peer must call `rekeyReceiving()` at the same
    /// point of the message stream; when is up to the protocol above.
    public func rekeySending() { sending.rekey() }

    /// Rekey() of the receiving CipherState; see `rekeySending()`.
    public func rekeyReceiving() { receiving.rekey() }

    /// For tests of the reserved nonce only (spec: SetNonce).
    func setSendingNonce(_ n: UInt64) { sending.setNonce(n) }

    private static func split(_ message: UnsafeMutableRawBufferPointer) throws(NoiseError)
        -> (text: UnsafeMutableRawBufferPointer, tag: UnsafeMutableRawBufferPointer) {
        guard message.count <= maxMessageLength else { throw .messageTooLarge(length: message.count) }
        guard message.count >= tagLength else { throw .messageTooShort(length: message.count, minimum: tagLength) }
        let end = message.count - tagLength
        return (UnsafeMutableRawBufferPointer(rebasing: message[0..<end]),
                UnsafeMutableRawBufferPointer(rebasing: message[end...]))
    }
}
