/// Failures of cryptographic operations. Messages name the operation, never key material.
public enum CryptoError: Error, Equatable, CustomStringConvertible {
    /// The ciphertext, its tag or its associated data was altered, or the key is wrong.
    case authenticationFailed
    /// An input had the wrong size for the primitive.
    case invalidLength(what: String, expected: Int, got: Int)
    /// A libsodium call failed for another reason (named), e.g. out of memory in Argon2id.
    case primitiveFailed(String)

    public var description: String {
        switch self {
        case .authenticationFailed:
            return "authentication failed: the data was altered or the key is wrong"
        case .invalidLength(let what, let expected, let got):
            return "\(what) must be \(expected) bytes (got \(got))"
        case .primitiveFailed(let call):
            return "\(call) failed"
        }
    }
}
