/// A Noise_XX_25519_ChaChaPoly_BLAKE2b handshake (Noise spec rev 34, §5.3 HandshakeState, §7.5 XX):
///
///     -> e
///     <- e, ee, s, es
///     -> s, se
///
/// The initiator calls `writeMessage`, `readMessage`, `writeMessage`; the responder `readMessage`,
/// `writeMessage`, `readMessage`. Each message may carry a payload (encrypted from the second message on;
/// the first message's payload travels in clear). After the third message `isComplete` is true and
/// `split()` gives the transport. Messages are the bare Noise messages (docs/wire.md adds the 2-byte length).
///
/// Every byte read is treated as hostile: bad lengths and failed authentication throw `NoiseError`, never
/// trap, and any error ends the handshake (further calls throw `.handshakeFailed`). The caller decides
/// whether `remoteStaticKey` is acceptable (pinned); the handshake only proves the peer holds its secret.
///
/// Not thread safe: one task or event loop drives a handshake. Secrets (chaining key, cipher key) live in
/// `sodium_malloc`'d memory wiped when the handshake is dropped or completes. Traps only when that memory
/// cannot be allocated.
public final class NoiseHandshake {
    /// Which side of the handshake this is.
    public enum Role: Sendable {
        /// Sends the first message (the client).
        case initiator
        /// Answers it (the host).
        case responder
    }

    /// The protocol name hashed into the transcript (spec §8).
    public static let protocolName = "Noise_XX_25519_ChaChaPoly_BLAKE2b"
    /// The largest Noise message, handshake or transport (spec §3).
    public static let maxMessageLength = 65535

    private enum Token { case e, s, ee, es, se }
    /// Spec §7.5, pattern XX.
    private static let pattern: [[Token]] = [[.e], [.e, .ee, .s, .es], [.s, .se]]

    /// This side's role.
    public let role: Role
    private let localStatic: X25519KeyPair
    private var localEphemeral: X25519KeyPair?
    private var remoteEphemeral: [UInt8]?
    private var remoteStatic: [UInt8]?
    /// Nil once the handshake completed or failed, which wipes the chaining key.
    private var symmetric: NoiseSymmetricState?
    private var transport: NoiseTransport?
    private var failed = false
    private var messageIndex = 0

    /// Starts a handshake: InitializeSymmetric with the protocol name, then MixHash(prologue). XX has no
    /// pre-messages.
    ///
    /// - Parameters:
    ///   - role: initiator or responder.
    ///   - staticKeyPair: this side's long-term key, sent encrypted to the peer.
    ///   - prologue: bytes both sides must agree on (the wire protocol uses ASCII `vishwa/1`); a mismatch makes the
    ///     second message fail authentication.
    ///   - ephemeral: for test vectors only; production passes nil and a fresh random key is generated
    ///     when the `e` token is written. Never reuse an ephemeral key.
    public init(role: Role, staticKeyPair: X25519KeyPair, prologue: [UInt8], ephemeral: X25519KeyPair? = nil) {
        self.role = role
        self.localStatic = staticKeyPair
        self.localEphemeral = ephemeral
        let symmetric = NoiseSymmetricState(protocolName: Array(Self.protocolName.utf8))
        prologue.withUnsafeBytes { symmetric.mixHash($0) }
        self.symmetric = symmetric
    }

    /// Whether all three messages were exchanged; `split()` is then available.
    public var isComplete: Bool { transport != nil }

    /// Whether the next call must be `writeMessage` (false: `readMessage`). Meaningless once complete.
    public var isMyTurnToWrite: Bool { (messageIndex % 2 == 0) == (role == .initiator) }

    /// The peer's static X25519 public key (32 bytes), once the message carrying it was read and fully
    /// authenticated: after the second message for the initiator, after the third for the responder.
    /// Check it against the pinned key before trusting anything from the peer.
    public var remoteStaticKey: [UInt8]? { remoteStatic }

    /// The handshake hash h (64 bytes). After completion it identifies this session for channel binding
    /// (spec §11.2); before, it is an intermediate value; after a failure, empty.
    public var handshakeHash: [UInt8] { transport?.handshakeHash ?? symmetric?.handshakeHash ?? [] }

    /// WriteMessage(payload): the next handshake message, carrying `payload`.
    ///
    /// Throws `.outOfTurn` when a message from the peer is due, `.handshakeComplete`, `.handshakeFailed`,
    /// `.invalidRemoteKey` when the peer's ephemeral key is of low order (the handshake ends), or
    /// `.messageTooLarge` when the message would exceed 65535 bytes (checked before any state changes,
    /// so the handshake survives that one error).
    public func writeMessage(payload: [UInt8] = []) throws(NoiseError) -> [UInt8] {
        let symmetric = try checkTurn(write: true)
        let tokens = Self.pattern[messageIndex]
        let length = Self.length(of: tokens, payload: payload.count, hasKey: symmetric.cipher.hasKey)
        guard length <= Self.maxMessageLength else { throw .messageTooLarge(length: length) }

        var message = [UInt8](repeating: 0, count: length)
        do throws(NoiseError) {
            try message.withMutableBytes { (out) throws(NoiseError) in
                var offset = 0
                for token in tokens {
                    switch token {
                    case .e:
                        // Spec: "Sets e (which must be empty) to GENERATE_KEYPAIR()"; tests inject it.
                        let ephemeral = localEphemeral ?? X25519KeyPair.generate()
                        localEphemeral = ephemeral
                        let field = Self.slice(out, offset, NoiseSuite.dhLength)
                        ephemeral.publicKey.withUnsafeBytes { field.copyMemory(from: $0) }
                        symmetric.mixHash(UnsafeRawBufferPointer(field))
                        offset += NoiseSuite.dhLength
                    case .s:
                        let field = Self.slice(out, offset, NoiseSuite.dhLength + symmetric.overhead)
                        localStatic.publicKey.withUnsafeBytes { field.copyMemory(from: $0) }
                        try symmetric.encryptAndHash(field)
                        offset += field.count
                    case .ee, .es, .se:
                        try mixDH(token, symmetric)
                    }
                }
                let field = Self.slice(out, offset, out.count - offset)
                payload.withUnsafeBytes { field.copyMemory(from: $0) }
                try symmetric.encryptAndHash(field)
            }
        } catch {
            fail()
            throw error
        }
        advance(symmetric)
        return message
    }

    /// ReadMessage(message): processes the peer's next handshake message and returns its payload.
    /// The first message's payload is neither encrypted nor authenticated (XX sends it before any DH);
    /// the others are both.
    ///
    /// Throws `.messageTooLarge`, `.messageTooShort`, `.authenticationFailed` (tampering, wrong prologue,
    /// wrong keys), `.invalidRemoteKey` (low-order peer key), `.outOfTurn`, `.handshakeComplete` or
    /// `.handshakeFailed`. Any error on the bytes ends the handshake.
    public func readMessage(_ message: [UInt8]) throws(NoiseError) -> [UInt8] {
        let symmetric = try checkTurn(write: false)
        let tokens = Self.pattern[messageIndex]
        let minimum = Self.length(of: tokens, payload: 0, hasKey: symmetric.cipher.hasKey)
        do throws(NoiseError) {
            guard message.count <= Self.maxMessageLength else { throw .messageTooLarge(length: message.count) }
            guard message.count >= minimum else { throw .messageTooShort(length: message.count, minimum: minimum) }
            var buffer = message
            let payload = try buffer.withMutableBytes { (bytes) throws(NoiseError) -> Range<Int> in
                var offset = 0
                for token in tokens {
                    switch token {
                    case .e:
                        let field = Self.slice(bytes, offset, NoiseSuite.dhLength)
                        remoteEphemeral = Array(UnsafeRawBufferPointer(field))
                        symmetric.mixHash(UnsafeRawBufferPointer(field))
                        offset += NoiseSuite.dhLength
                    case .s:
                        let field = Self.slice(bytes, offset, NoiseSuite.dhLength + symmetric.overhead)
                        try symmetric.decryptAndHash(field)
                        stagedRemoteStatic = Array(UnsafeRawBufferPointer(rebasing: field[0..<NoiseSuite.dhLength]))
                        offset += field.count
                    case .ee, .es, .se:
                        try mixDH(token, symmetric)
                    }
                }
                let overhead = symmetric.overhead
                try symmetric.decryptAndHash(Self.slice(bytes, offset, bytes.count - offset))
                return offset..<(bytes.count - overhead)
            }
            // Publish the peer's key only now that the whole message, including the DH after `s`, authenticated.
            if let staged = stagedRemoteStatic {
                remoteStatic = staged
                stagedRemoteStatic = nil
            }
            advance(symmetric)
            return Array(buffer[payload])
        } catch {
            fail()
            throw error
        }
    }

    /// The transport keys, once `isComplete`: Split() (spec §5.2), with the initiator sending on the first
    /// CipherState. Returns the same object on every call (never two objects sharing nonces).
    /// Throws `.handshakeIncomplete` before the third message, `.handshakeFailed` after an error.
    public func split() throws(NoiseError) -> NoiseTransport {
        if let transport { return transport }
        throw failed ? .handshakeFailed : .handshakeIncomplete
    }

    // MARK: - Steps

    /// The peer's key from an `s` token while the rest of its message is still being checked.
    private var stagedRemoteStatic: [UInt8]?

    private func checkTurn(write: Bool) throws(NoiseError) -> NoiseSymmetricState {
        if failed { throw .handshakeFailed }
        guard let symmetric else { throw .handshakeComplete }
        guard isMyTurnToWrite == write else { throw .outOfTurn(expectedWrite: !write) }
        return symmetric
    }

    /// ee, es, se: MixKey(DH(...)) with the keys spec §5.3 assigns to each role.
    private func mixDH(_ token: Token, _ symmetric: NoiseSymmetricState) throws(NoiseError) {
        let initiator = role == .initiator
        let local: X25519KeyPair?
        let remote: [UInt8]?
        switch token {
        case .ee: (local, remote) = (localEphemeral, remoteEphemeral)
        case .es: (local, remote) = initiator ? (localEphemeral, rs) : (localStatic, remoteEphemeral)
        case .se: (local, remote) = initiator ? (localStatic, remoteEphemeral) : (localEphemeral, rs)
        case .e, .s: preconditionFailure("not a DH token")
        }
        // The XX pattern guarantees both keys exist at each DH token; a nil here is a bug, not input.
        guard let local, let remote else { preconditionFailure("Noise XX: DH before its keys are known") }
        try withUnsafeTemporaryAllocation(byteCount: NoiseSuite.dhLength, alignment: 8) {
            (shared) throws(NoiseError) in
            defer { NoiseSuite.wipe(shared) }
            try remote.withBytes { (publicKey) throws(NoiseError) in
                try NoiseSuite.dh(secretKey: local.secretKey, publicKey: publicKey, into: shared)
            }
            symmetric.mixKey(UnsafeRawBufferPointer(shared))
        }
    }

    /// The remote static key for DH: published, or read earlier in the message being processed.
    private var rs: [UInt8]? { remoteStatic ?? stagedRemoteStatic }

    private func advance(_ symmetric: NoiseSymmetricState) {
        messageIndex += 1
        guard messageIndex == Self.pattern.count else { return }
        let (c1, c2) = symmetric.split()
        guard let remoteStatic else { preconditionFailure("Noise XX completed without the peer's static key") }
        transport = NoiseTransport(sending: role == .initiator ? c1 : c2,
                                   receiving: role == .initiator ? c2 : c1,
                                   handshakeHash: symmetric.handshakeHash, remoteStaticKey: remoteStatic)
        // Drop the chaining key and the ephemeral secret: the handshake needs neither any more.
        self.symmetric = nil
        localEphemeral = nil
    }

    private func fail() {
        failed = true
        symmetric = nil
        localEphemeral = nil
        stagedRemoteStatic = nil
    }

    /// Bytes of a message with these tokens and a payload of `payload` bytes, given whether k is set at
    /// its start (any DH token sets it).
    private static func length(of tokens: [Token], payload: Int, hasKey start: Bool) -> Int {
        var hasKey = start
        var length = 0
        for token in tokens {
            switch token {
            case .e: length += NoiseSuite.dhLength
            case .s: length += NoiseSuite.dhLength + (hasKey ? NoiseSuite.tagLength : 0)
            case .ee, .es, .se: hasKey = true
            }
        }
        return length + payload + (hasKey ? NoiseSuite.tagLength : 0)
    }

    private static func slice(_ buffer: UnsafeMutableRawBufferPointer, _ offset: Int, _ count: Int)
        -> UnsafeMutableRawBufferPointer {
        // Lengths were checked against the pattern before any slicing; this guards the arithmetic.
        precondition(offset >= 0 && count >= 0 && offset + count <= buffer.count)
        return UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<(offset + count)])
    }
}
