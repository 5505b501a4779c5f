#if canImport(Glibc)
import Glibc
#endif

/// The few POSIX file calls the vault needs, each turning a C failure into `VaultError.io`.
enum FileIO {
    /// Creates `path` and its parents as needed, with mode 0700 for any it creates.
    static func makeDirectory(_ path: String) throws(VaultError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o700) != 0 && errno != EEXIST {
                throw .io(operation: "creating directory", path: current, errno: errno)
            }
        }
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// Reads a whole small file, at most `limit` bytes (a larger file is read up to the limit + 1).
    static func read(_ path: String, limit: Int) throws(VaultError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw .missing(path: path) }
            throw .io(operation: "opening", path: path, errno: errno)
        }
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: limit + 1)
        var total = 0
        while total < out.count {
            let n = out.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + total, $0.count - total) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw .io(operation: "reading", path: path, errno: errno) }
            if n == 0 { break }
            total += n
        }
        out.removeSubrange(total...)
        return out
    }

    /// Writes `bytes` to `path` with `mode`, durably and without ever replacing an existing file:
    /// temp file, fsync, link into place (fails if the name exists), unlink temp, fsync directory.
    static func createDurably(_ path: String, bytes: [UInt8], mode: mode_t) throws(VaultError) {
        let temp = path + ".tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .io(operation: "creating", path: temp, errno: errno) }
        var failure: VaultError?
        var written = 0
        while written < bytes.count && failure == nil {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { failure = .io(operation: "writing", path: temp, errno: errno) } else { written += n }
        }
        if failure == nil && fsync(fd) != 0 { failure = .io(operation: "fsync of", path: temp, errno: errno) }
        close(fd)
        if failure == nil && link(temp, path) != 0 {
            failure = errno == EEXIST ? .alreadyExists(path: path) : .io(operation: "linking", path: path, errno: errno)
        }
        unlink(temp)
        if let failure { throw failure }
        try syncDirectory(of: path)
    }

    static func syncDirectory(of path: String) throws(VaultError) {
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let dir = directory.isEmpty ? (path.hasPrefix("/") ? "/" : ".") : directory
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(operation: "opening directory", path: dir, errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .io(operation: "fsync of directory", path: dir, errno: errno) }
    }
}
