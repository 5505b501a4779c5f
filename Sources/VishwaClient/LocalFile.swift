import VishwaCore

#if canImport(Glibc)
import Glibc
#endif

/// Blocking reads and writes of local files, at explicit offsets (so chunks can be handled out of
/// order). Used from the session's thread pool, never from the cooperative pool.
final class LocalFile: @unchecked Sendable {
    let path: String
    let fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// Opens a regular file for reading; throws if missing, unreadable or not a regular file.
    static func openForReading(_ path: String) throws(ClientError) -> (LocalFile, size: Int, mtime: Int64, mode: Int) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .cannotRead(path: path, reason: String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .notAFile(path) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotRead(path: path, reason: String(cString: strerror(errno))) }
        guard Int(info.st_size) <= FileLimits.maxFileSize else {
            throw .cannotRead(path: path, reason: "larger than the largest file a vault holds (1 PiB)")
        }
        // A local file may carry any time (touch -d 2300-01-01): kept as the nearest the catalog holds.
        let mtime = FileLimits.clampedNanoseconds(seconds: Int64(info.st_mtim.tv_sec), nanoseconds: Int64(info.st_mtim.tv_nsec))
        return (LocalFile(path: path, fd: fd), Int(info.st_size), mtime, Int(info.st_mode))
    }

    /// Creates a new file (never replacing one) with mode 0600 while it is written.
    static func create(_ path: String) throws(ClientError) -> LocalFile {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        return LocalFile(path: path, fd: fd)
    }

    /// The mode open(2) gives a new file asked for 0666: what the user's umask lets through,
    /// which a finished download gets (it is written as 0600 until then).
    static func modeForNewFiles() -> mode_t { 0o666 & ~currentUmask() }

    /// The umask, read from /proc/self/status: umask(2) reads it only by changing it, and
    /// another thread may create a file meanwhile. 022 (the usual one) if it cannot be read.
    static func currentUmask() -> mode_t {
        let fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 0o022 }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 16384)
        var total = 0
        while total < bytes.count {
            let count = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + total, $0.count - total) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            total += count
        }
        for line in String(decoding: bytes[..<total], as: UTF8.self).split(separator: "\n") where line.hasPrefix("Umask:") {
            if let mask = mode_t(line.dropFirst("Umask:".count).trimmingPrefix { $0 == " " || $0 == "\t" }, radix: 8) {
                return mask & 0o777
            }
        }
        return 0o022
    }

    /// Reads exactly `count` bytes at `offset`.
    func read(at offset: Int, count: Int) throws(ClientError) -> [UInt8] {
        var failure: ClientError?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var done = 0
            while done < count {
                let n = pread(fd, buffer.baseAddress! + done, count - done, off_t(offset + done))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    failure = .cannotRead(path: path, reason: n == 0 ? "the file shrank while reading" : String(cString: strerror(errno)))
                    break
                }
                done += n
            }
            initialized = failure == nil ? count : 0
        }
        if let failure { throw failure }
        return bytes
    }

    func write(_ bytes: [UInt8], at offset: Int) throws(ClientError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw .cannotWrite(path: path, reason: String(cString: strerror(errno))) }
            done += n
        }
    }

    /// posix_fadvise DONTNEED on a range: its dirty pages start going to disk without waiting (so
    /// the fsync at the end of a large download finds little left to do), its clean ones leave
    /// the page cache (sync_file_range is not visible to Swift's Glibc). Advice only.
    func dropCache(at offset: Int, count: Int) {
        _ = posix_fadvise(fd, off_t(offset), off_t(count), POSIX_FADV_DONTNEED)
    }

    func truncate(to size: Int) throws(ClientError) {
        guard ftruncate(fd, off_t(size)) == 0 else { throw .cannotWrite(path: path, reason: String(cString: strerror(errno))) }
    }

    func sync() throws(ClientError) {
        guard fsync(fd) == 0 else { throw .cannotWrite(path: path, reason: String(cString: strerror(errno))) }
    }

    deinit { close(fd) }
}
