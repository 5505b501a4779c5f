import VishwaCore

/// What can go wrong with a vault's key file or recovery code; each message is one line saying
/// what is wrong, with what, and what to try.
public enum VaultError: Error, Equatable, CustomStringConvertible {
    case alreadyExists(path: String)
    case missing(path: String)
    case truncated(path: String, size: Int, expected: Int)
    case corrupt(path: String, reason: String)
    case wrongPassphrase(path: String)
    case passphraseRequired(path: String)
    case emptyPassphrase
    case passphraseMismatch
    case invalidRecoveryCode(String)
    case unreadablePassphrase(path: String, reason: String)
    case io(operation: String, path: String, errno: Int32)

    public var description: String {
        switch self {
        case .alreadyExists(let path):
            return "a vault already exists at \(path); refusing to overwrite it (use another --home)"
        case .missing(let path):
            return "no vault at \(path): run 'vishwa init' first (or pass --home)"
        case .truncated(let path, let size, let expected):
            return "key file \(path) is truncated: \(size) bytes, expected \(expected); restore it or use the recovery code"
        case .corrupt(let path, let reason):
            return "key file \(path) is corrupt: \(reason); restore it or use the recovery code"
        case .wrongPassphrase(let path):
            return "wrong passphrase for \(path)"
        case .passphraseRequired(let path):
            return "\(path) is protected by a passphrase: pass --passphrase-file F, or run on a terminal to be asked"
        case .emptyPassphrase:
            return "the passphrase is empty; use --no-passphrase for an unprotected key file"
        case .passphraseMismatch:
            return "the two passphrases differ; nothing was created"
        case .invalidRecoveryCode(let reason):
            return "invalid recovery code: \(reason)"
        case .unreadablePassphrase(let path, let reason):
            return "cannot read passphrase file \(path): \(reason)"
        case .io(let operation, let path, let errno):
            return FileError(operation, path, errno: errno).description
        }
    }
}

extension VaultError {
    init(_ error: FileError) {
        self = .io(operation: error.operation, path: error.path, errno: error.errno)
    }
}
