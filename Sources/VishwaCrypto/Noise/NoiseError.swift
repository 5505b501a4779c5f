/// Why a Noise handshake or transport operation failed. Messages name the step, never key material.
///
/// Every failure on bytes from the network is one of these errors; none of them is a trap. After any
/// error from `NoiseHandshake` the handshake is dead (`.handshakeFailed` from then on); after an error
/// from `NoiseTransport` the session may continue only if the caller's protocol allows dropping a message
/// (the wire protocol, docs/wire.md, closes the connection instead).
public enum NoiseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A message to write or read is longer than the 65535 bytes a Noise message may have (spec §3).
    case messageTooLarge(length: Int)
    /// A message read is shorter than the keys and tags its position in the pattern requires.
    case messageTooShort(length: Int, minimum: Int)
    /// ChaChaPoly rejected a ciphertext: altered, truncated, replayed, reordered, or sent under other keys
    /// or another prologue.
    case authenticationFailed
    /// The peer sent an X25519 public key that gives an all-zero shared secret (a low-order point).
    case invalidRemoteKey
    /// The cipher's 64-bit nonce reached 2^64-1, which Noise reserves (spec §5.1); start a new session.
    case nonceExhausted
    /// `writeMessage` was called when a message from the peer was due, or `readMessage` the other way round.
    case outOfTurn(expectedWrite: Bool)
    /// All three XX messages were already exchanged; use the transport from `split()`.
    case handshakeComplete
    /// `split()` was called before all three XX messages were exchanged.
    case handshakeIncomplete
    /// An earlier step of this handshake threw; its state is unusable and a new handshake is needed.
    case handshakeFailed

    public var description: String {
        switch self {
        case .messageTooLarge(let length):
            return "Noise message of \(length) bytes exceeds the 65535-byte limit"
        case .messageTooShort(let length, let minimum):
            return "Noise message of \(length) bytes is shorter than the \(minimum) bytes required"
        case .authenticationFailed:
            return "Noise message failed authentication (altered, replayed, reordered, or wrong keys or prologue)"
        case .invalidRemoteKey:
            return "peer's X25519 public key is of low order (all-zero shared secret)"
        case .nonceExhausted:
            return "Noise cipher nonce exhausted (2^64-1 messages); start a new session"
        case .outOfTurn(let expectedWrite):
            return "Noise handshake call out of turn: the next step is to \(expectedWrite ? "write" : "read") a message"
        case .handshakeComplete:
            return "Noise handshake already complete; use the transport from split()"
        case .handshakeIncomplete:
            return "Noise handshake not complete; split() needs all three XX messages"
        case .handshakeFailed:
            return "an earlier step of this Noise handshake failed; start a new handshake"
        }
    }
}
