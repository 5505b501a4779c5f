/// What a filesystem operation can fail with, independent of FUSE; VishwaFUSE maps each case to
/// exactly one errno (`Errno.code(for:)`), so the mapping is decided and tested in one place.
public enum FSError: Error, Equatable, Sendable, CustomStringConvertible {
    case notFound
    case exists
    case notEmpty
    case notDirectory
    case isDirectory
    case readOnly
    case noSpace
    /// An offset or size past `FileLimits.maxFileSize`.
    case fileTooLarge
    case nameTooLong
    case invalidName
    case crossDevice
    case notSupported
    case permissionDenied
    /// The operation is not allowed on this kind of node (hard link to a directory, writing a read-only attribute).
    case notPermitted
    /// No such extended attribute.
    case noAttribute
    /// A name that is not valid UTF-8.
    case illegalByteSequence
    /// The node the kernel named by its id is gone (the CLI removed it): the kernel then looks
    /// the path up again instead of trusting the name it had cached.
    case stale
    case cancelled
    case timedOut
    /// Anything else (authentication failure, too few shards, …): what happened, for the log line.
    case io(String)

    public var description: String {
        switch self {
        case .notFound: return "not found"
        case .exists: return "exists"
        case .notEmpty: return "directory not empty"
        case .notDirectory: return "not a directory"
        case .isDirectory: return "is a directory"
        case .readOnly: return "read-only"
        case .noSpace: return "no space (hosts full or quota reached)"
        case .fileTooLarge: return "file too large (the largest is 1 PiB)"
        case .nameTooLong: return "name longer than 255 bytes"
        case .invalidName: return "invalid name"
        case .crossDevice: return "cross-device link"
        case .notSupported: return "not supported"
        case .permissionDenied: return "permission denied"
        case .notPermitted: return "operation not permitted"
        case .noAttribute: return "no such attribute"
        case .illegalByteSequence: return "name is not valid UTF-8"
        case .stale: return "stale file handle (removed by another program)"
        case .cancelled: return "cancelled"
        case .timedOut: return "timed out"
        case .io(let what): return "I/O error: \(what)"
        }
    }
}
