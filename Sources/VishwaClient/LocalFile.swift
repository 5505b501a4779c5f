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
        let mtime = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        return (LocalFile(path: path, fd: fd), Int(info.st_size), mtime, Int(info.st_mode))
    }

    /// Creates a new file (never replacing one) with mode 0600 while it is written.
    static func create(_ path: String) throws(ClientError) -> LocalFile {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        return LocalFile(path: path, fd: fd)
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
