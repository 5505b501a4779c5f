#if canImport(Glibc)
import Glibc
#endif

/// A failed file-system call: which operation, on which path, and the errno.
public struct FileError: Error, Equatable, CustomStringConvertible {
    public let operation: String
    public let path: String
    public let errno: Int32

    public init(_ operation: String, _ path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String { "\(operation) \(path) failed: \(String(cString: strerror(errno)))" }
}

/// Small files written so that a crash at any moment leaves either the old content or the new,
/// never a mix: temp file, fsync, rename (or link), fsync of the directory.
public enum DurableFile {
    /// Creates `path` and missing parents with mode 0700. `path` itself ends 0700 even when it
    /// existed (a folder made beforehand with `mkdir`, 0755): it holds keys.
    public static func makeDirectory(_ path: String) throws(FileError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o700) != 0 && errno != EEXIST { throw FileError("creating directory", current, errno: errno) }
        }
        if chmod(path, 0o700) != 0 { throw FileError("making private (0700)", path, errno: errno) }
    }

    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// Reads a whole small file, at most `limit` + 1 bytes (so callers can tell "too long").
    public static func read(_ path: String, limit: Int) throws(FileError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError("opening", path, errno: errno) }
        defer { close(fd) }
        // Size the buffer from the file, not the limit: a 64 MiB limit must not cost 64 MiB.
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileError("stat of", path, errno: errno) }
        var out = [UInt8](repeating: 0, count: min(limit, max(Int(info.st_size), 0)) + 1)
        var total = 0
        while total < out.count {
            let n = out.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + total, $0.count - total) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw FileError("reading", path, errno: errno) }
            if n == 0 { break }
            total += n
        }
        out.removeSubrange(total...)
        return out
    }

    /// Writes `bytes` to `path` durably, replacing any previous file atomically.
    public static func replace(_ path: String, bytes: [UInt8], mode: mode_t = 0o600) throws(FileError) {
        let temp = try writeTemp(for: path, bytes: bytes, mode: mode)
        guard rename(temp, path) == 0 else {
            let code = errno
            unlink(temp)
            throw FileError("renaming into", path, errno: code)
        }
        try syncDirectory(of: path)
    }

    /// Writes `bytes` to `path` durably; fails with EEXIST (and writes nothing) if `path` exists.
    public static func create(_ path: String, bytes: [UInt8], mode: mode_t = 0o600) throws(FileError) {
        let temp = try writeTemp(for: path, bytes: bytes, mode: mode)
        defer { unlink(temp) }
        guard link(temp, path) == 0 else { throw FileError("creating", path, errno: errno) }
        try syncDirectory(of: path)
    }

    public static func syncDirectory(of path: String) throws(FileError) {
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let dir = directory.isEmpty ? (path.hasPrefix("/") ? "/" : ".") : directory
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError("opening directory", dir, errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FileError("fsync of directory", dir, errno: errno) }
    }

    private static func writeTemp(for path: String, bytes: [UInt8], mode: mode_t) throws(FileError) -> String {
        let temp = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileError("creating", temp, errno: errno) }
        var failure: FileError?
        var written = 0
        while written < bytes.count && failure == nil {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { failure = FileError("writing", temp, errno: errno) } else { written += n }
        }
        if failure == nil && fsync(fd) != 0 { failure = FileError("fsync of", temp, errno: errno) }
        close(fd)
        if let failure {
            unlink(temp)
            throw failure
        }
        return temp
    }
}
