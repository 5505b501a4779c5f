import CFuse3
import VishwaCatalog
import VishwaFS

#if canImport(Glibc)
import Glibc
#endif

/// A `fuse_req_t` that may cross to the task that answers it. libfuse allows a reply from any
/// thread, exactly once; `FuseMount.answer` is the only place that replies.
struct PendingRequest: @unchecked Sendable {
    let raw: fuse_req_t
}

/// The session, for a notification sent from another thread (libfuse allows it; `drain` waits
/// for such work before the session is destroyed).
struct SessionPointer: @unchecked Sendable {
    let raw: OpaquePointer
}

/// What an operation answers, turned into the matching `fuse_reply_*` call by `FuseMount.send`.
enum Reply: Sendable {
    case error(Int32)
    case ok
    case none
    case entry(NodeAttributes)
    case attributes(NodeAttributes)
    case bytes(ArraySlice<UInt8>)
    /// `noFlush`: the kernel sends no FLUSH at close (a handle that cannot write has nothing to commit).
    case opened(handle: UInt64, keepCache: Bool, noFlush: Bool = false)
    case created(NodeAttributes, handle: UInt64)
    case written(Int)
    case link([UInt8])
    case statfs(Capacity)
    case xattrSize(Int)
    /// Directory entries from `first` on, as readdir (plain) or readdirplus wants them.
    case directory([DirectorySlot], size: Int, plus: Bool)
}

/// One slot of a listing: `.`, `..` or a named node; `offset` is the cookie of the next slot.
struct DirectorySlot: Sendable {
    let name: String
    let attributes: NodeAttributes
    let offset: Int
}

extension NodeAttributes {
    /// The `stat` the kernel sees. Block size 1 MiB: `cp` and friends size their buffers by it.
    var stat: stat {
        var result = Glibc.stat()
        result.st_ino = UInt(id)
        result.st_mode = mode
        result.st_nlink = UInt(max(0, nlink))
        result.st_uid = uid
        result.st_gid = gid
        result.st_rdev = UInt(rdev)
        result.st_size = kind == .directory ? 4096 : size
        result.st_blocks = (result.st_size + 511) / 512
        result.st_blksize = 1 << 20
        result.st_atim = Self.timespec(atime)
        result.st_mtim = Self.timespec(mtime)
        result.st_ctim = Self.timespec(ctime)
        return result
    }

    static func timespec(_ nanoseconds: Int64) -> Glibc.timespec {
        var seconds = nanoseconds / 1_000_000_000
        var rest = nanoseconds % 1_000_000_000
        if rest < 0 {
            seconds -= 1
            rest += 1_000_000_000
        }
        return Glibc.timespec(tv_sec: Int(seconds), tv_nsec: Int(rest))
    }
}
