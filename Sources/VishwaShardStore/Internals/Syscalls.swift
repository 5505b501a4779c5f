#if canImport(Glibc)
import Glibc
#endif

// The only file of this module that calls libc. Each wrapper makes one call, named after it, and
// passes the C return code through `checked`, which turns -1/errno into `StoreError.io` carrying
// the call's name and the path it acted on (the swift-system `valueOrErrno` pattern).

/// Runs `call` until it returns something other than -1, retrying EINTR when `retryOnInterrupt`;
/// any other failure becomes `StoreError.io(operation: name, path: path, errno: errno)`.
@inline(__always)
private func checked<I: FixedWidthInteger>(
    _ name: String, _ path: String, retryOnInterrupt: Bool = true, _ call: () -> I
) throws(StoreError) -> I {
    while true {
        let result = call()
        if result != -1 { return result }
        let code = errno
        if code == EINTR && retryOnInterrupt { continue }
        throw .io(operation: name, path: path, errno: code)
    }
}

/// What a directory entry is, from `d_type` (or `lstat` when the file system leaves it unknown).
enum EntryKind {
    case directory
    case file
    case other
}

/// Thin wrappers over the POSIX calls the store makes. All are blocking; none keeps state.
enum Sys {
    /// Wraps open(2).
    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0) throws(StoreError) -> Int32 {
        try checked("open", path) { Glibc.open(path, flags | O_CLOEXEC, mode) }
    }

    /// Wraps close(2). Never retried: on Linux the descriptor is gone even when close reports EINTR.
    static func close(_ fd: Int32, path: String) throws(StoreError) {
        _ = try checked("close", path, retryOnInterrupt: false) { Glibc.close(fd) }
    }

    /// Wraps read(2); returns the count read, 0 at end of file.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String) throws(StoreError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        return try checked("read", path) { Glibc.read(fd, base, buffer.count) }
    }

    /// Wraps pread(2); returns the count read, 0 at end of file.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int, path: String) throws(StoreError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        return try checked("pread", path) { Glibc.pread(fd, base, buffer.count, off_t(offset)) }
    }

    /// Wraps write(2); returns the count written (possibly short).
    static func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer, path: String) throws(StoreError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        return try checked("write", path) { Glibc.write(fd, base, buffer.count) }
    }

    /// Wraps fsync(2).
    static func fsync(_ fd: Int32, path: String) throws(StoreError) {
        _ = try checked("fsync", path) { Glibc.fsync(fd) }
    }

    /// Asks the kernel to drop the file's cached pages (posix_fadvise DONTNEED): only clean
    /// pages go, so call it after fsync. Advice only: a failure changes nothing stored.
    static func dropCache(_ fd: Int32) {
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
    }

    /// Wraps fstat(2); returns the size in bytes.
    static func fileSize(_ fd: Int32, path: String) throws(StoreError) -> Int {
        var info = stat()
        _ = try checked("fstat", path) { fstat(fd, &info) }
        return Int(info.st_size)
    }

    /// Wraps stat(2); returns the size of a regular file, nil when nothing (or no regular file) is there.
    static func regularFileSize(_ path: String) throws(StoreError) -> Int? {
        var info = stat()
        do {
            _ = try checked("stat", path) { stat(path, &info) }
        } catch .io(_, _, ENOENT), .io(_, _, ENOTDIR) {
            return nil
        }
        guard info.st_mode & S_IFMT == S_IFREG else { return nil }
        return Int(info.st_size)
    }

    /// Wraps rename(2).
    static func rename(_ from: String, to: String) throws(StoreError) {
        _ = try checked("rename", to) { Glibc.rename(from, to) }
    }

    /// Wraps unlink(2); false when there was nothing to remove.
    @discardableResult
    static func unlink(_ path: String) throws(StoreError) -> Bool {
        do {
            _ = try checked("unlink", path) { Glibc.unlink(path) }
            return true
        } catch .io(_, _, ENOENT) {
            return false
        }
    }

    /// Wraps mkdir(2); false when the directory already existed.
    static func mkdir(_ path: String, mode: mode_t) throws(StoreError) -> Bool {
        do {
            _ = try checked("mkdir", path) { Glibc.mkdir(path, mode) }
            return true
        } catch .io(_, _, EEXIST) {
            return false
        }
    }

    /// Wraps statvfs(3): total bytes and bytes available to unprivileged users.
    static func fileSystemSpace(_ path: String) throws(StoreError) -> (total: Int, available: Int) {
        var info = statvfs()
        _ = try checked("statvfs", path) { statvfs(path, &info) }
        let unit = UInt64(info.f_frsize)
        let clamp = { (value: UInt64) -> Int in value > UInt64(Int.max) ? Int.max : Int(value) }
        return (clamp(UInt64(info.f_blocks).multipliedReportingOverflow(by: unit).partialValue),
                clamp(UInt64(info.f_bavail).multipliedReportingOverflow(by: unit).partialValue))
    }

    /// Opens `path` as a directory and fsyncs it, so entries created or removed in it are durable
    /// (fsync(2): "calling fsync() on a file does not necessarily ensure that the entry in the
    /// directory containing the file has also reached disk").
    static func syncDirectory(_ path: String) throws(StoreError) {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        var failure: StoreError?
        do { try fsync(fd, path: path) } catch { failure = error }
        do { try close(fd, path: path) } catch { failure = failure ?? error }
        if let failure { throw failure }
    }

    /// Wraps opendir(3)/readdir(3)/closedir(3): the names in `path` (without `.` and `..`), in no
    /// particular order; nil when the directory does not exist.
    static func listDirectory(_ path: String) throws(StoreError) -> [(name: String, kind: EntryKind)]? {
        guard let dir = opendir(path) else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw .io(operation: "opendir", path: path, errno: errno)
        }
        defer { closedir(dir) }
        var entries: [(name: String, kind: EntryKind)] = []
        while true {
            // readdir(3): "to distinguish end of stream from an error, set errno to zero before calling".
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw .io(operation: "readdir", path: path, errno: errno) }
                return entries
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            let kind: EntryKind
            switch Int32(entry.pointee.d_type) {
            case Int32(DT_DIR): kind = .directory
            case Int32(DT_REG): kind = .file
            case Int32(DT_UNKNOWN): kind = lstatKind(path + "/" + name)
            default: kind = .other
            }
            entries.append((name, kind))
        }
    }

    private static func lstatKind(_ path: String) -> EntryKind {
        var info = stat()
        guard lstat(path, &info) == 0 else { return .other }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: return .directory
        case S_IFREG: return .file
        default: return .other
        }
    }

    /// Runs `body` on the bytes of `array`; Array.withUnsafeBytes only rethrows untyped errors.
    static func withBytes<R>(
        of array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(StoreError) -> R
    ) throws(StoreError) -> R {
        try array.withUnsafeBytes { raw in Result { () throws(StoreError) in try body(raw) } }.get()
    }

    /// The current errno's text, for error descriptions (strerror(3)).
    static func describe(errno code: Int32) -> String {
        String(cString: strerror(code))
    }
}
