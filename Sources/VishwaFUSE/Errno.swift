import CFuse3
import VishwaFS

#if canImport(Glibc)
import Glibc
#endif

/// The one place errors become errno values for FUSE replies. Unknown errors
/// become EIO; the caller logs them once with inode, chunk, shard and host, never with keys.
public enum Errno {
    public static func code(for error: any Error) -> Int32 {
        switch error {
        case let fs as FSError: return code(for: fs)
        case is CancellationError: return EINTR
        default: return EIO
        }
    }

    public static func code(for error: FSError) -> Int32 {
        switch error {
        case .notFound: return ENOENT
        case .exists: return EEXIST
        case .notEmpty: return ENOTEMPTY
        case .notDirectory: return ENOTDIR
        case .isDirectory: return EISDIR
        case .readOnly: return EROFS
        case .noSpace: return ENOSPC
        case .fileTooLarge: return EFBIG
        case .nameTooLong: return ENAMETOOLONG
        case .invalidName: return EINVAL
        case .crossDevice: return EXDEV
        case .notSupported: return ENOTSUP
        case .permissionDenied: return EACCES
        case .notPermitted: return EPERM
        case .noAttribute: return ENODATA
        case .illegalByteSequence: return EILSEQ
        case .stale: return ESTALE
        case .cancelled: return EINTR
        case .timedOut: return ETIMEDOUT
        case .io: return EIO
        }
    }

    /// The libfuse version this binary runs against (e.g. "3.14.0"), for `vishwafs --version`.
    public static var libfuseVersion: String { String(cString: fuse_pkgversion()) }
}
