import VishwaErasure

#if canImport(Glibc)
import Glibc
#endif

/// The host file format (docs/format.md §3.2, version 1): an 8-byte header, magic `VWSF` and the
/// CRC32C of the payload as a big-endian u32, then the payload (an encrypted shard or catalog
/// backup, opaque to the host). Writing is durable; reading verifies the header and CRC every time.
enum StoredFile {
    static let magic: [UInt8] = Array("VWSF".utf8)
    static let headerSize = 8

    /// What reading a stored file found.
    enum Contents {
        case missing
        /// The file exists but is not a valid stored file; `reason` is for the log.
        case corrupt(reason: String)
        case payload([UInt8])
    }

    static func header(for payload: UnsafeRawBufferPointer) -> [UInt8] {
        let crc = CRC32C.checksum(payload)
        return magic + [UInt8(crc >> 24), UInt8(truncatingIfNeeded: crc >> 16),
                        UInt8(truncatingIfNeeded: crc >> 8), UInt8(truncatingIfNeeded: crc)]
    }

    /// Writes header and `payload` to a new `.tmp-` file in `directory`, fsyncs and closes it, and
    /// returns its path. On any failure the temp file is removed before the error is thrown.
    static func writeTemporary(in directory: String, payload: UnsafeRawBufferPointer) throws(StoreError) -> String {
        let path = directory + "/" + StoreLayout.tempName()
        let fd = try Sys.open(path, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
        var failure: StoreError?
        do throws(StoreError) {
            try Sys.withBytes(of: header(for: payload)) { (raw) throws(StoreError) in
                try writeAll(fd, raw, path: path)
            }
            try writeAll(fd, payload, path: path)
            // The rename that follows publishes the name; fsync first so the name never points at
            // data that a crash could lose (ext4 and XFS do not promise that order otherwise).
            try Sys.fsync(fd, path: path)
            // A shard is seldom read soon after it is stored; keeping it cached would only fill
            // memory. Pages given back now are the ones the next write reuses, already mapped:
            // on this VM, writing into never-touched pages cost a quarter of an upload's CPU.
            Sys.dropCache(fd)
        } catch {
            failure = error
        }
        do { try Sys.close(fd, path: path) } catch { failure = failure ?? error }
        if let failure {
            _ = try? Sys.unlink(path)
            throw failure
        }
        return path
    }

    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(StoreError) {
        var offset = 0
        while offset < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let written = try Sys.write(fd, from: rest, path: path)
            // write(2) returns 0 only for a zero count; guard anyway against spinning forever.
            guard written > 0 else { throw .io(operation: "write", path: path, errno: EIO) }
            offset += written
        }
    }

    /// Reads and verifies the file at `path`. A payload over `maxPayload` bytes is reported as
    /// corrupt without being read (the store never writes one).
    static func read(_ path: String, maxPayload: Int) throws(StoreError) -> Contents {
        let fd: Int32
        do {
            fd = try Sys.open(path, O_RDONLY)
        } catch .io(_, _, ENOENT), .io(_, _, ENOTDIR) {
            return .missing
        }
        defer { try? Sys.close(fd, path: path) }
        let size = try Sys.fileSize(fd, path: path)
        guard size >= headerSize else { return .corrupt(reason: "\(size) bytes, shorter than the header") }
        guard size - headerSize <= maxPayload else { return .corrupt(reason: "\(size) bytes, over the size limit") }

        var header: UInt64 = 0  // 8 bytes of scratch, read as bytes in file order
        let headerRead = try withUnsafeMutableBytes(of: &header) { raw in
            Result { () throws(StoreError) in try readAll(fd, raw, path: path) }
        }.get()
        let headerBytes = withUnsafeBytes(of: header) { Array($0) }
        guard headerRead == headerSize else { return .corrupt(reason: "truncated while reading") }
        guard Array(headerBytes[0..<4]) == magic else { return .corrupt(reason: "bad magic") }
        let stored = headerBytes[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }

        let count = size - headerSize
        var payloadRead = 0
        var failure: StoreError?
        let payload = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(StoreError) {
                payloadRead = try readAll(fd, UnsafeMutableRawBufferPointer(buffer), path: path)
            } catch {
                failure = error
            }
            // Zero whatever was not read so every element is initialized before the count is set.
            if payloadRead < count {
                UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[payloadRead...])
                    .initializeMemory(as: UInt8.self, repeating: 0)
            }
            initialized = count
        }
        if let failure { throw failure }
        guard payloadRead == count else { return .corrupt(reason: "truncated while reading") }
        let computed = payload.withUnsafeBytes { CRC32C.checksum($0) }
        guard computed == stored else {
            return .corrupt(reason: "CRC32C \(hex(computed)) does not match the stored \(hex(stored))")
        }
        return .payload(payload)
    }

    /// Reads payload bytes `range` only, checking the magic and the bounds but not the CRC (which
    /// covers the whole payload). Range reads serve shards whose every segment carries its own
    /// authentication tag, checked by the client: a rotted byte fails there, and whole reads and
    /// scrub still find it by CRC. `.missing` when there is no file; nil when `range` is outside
    /// the payload, with the payload's size.
    static func read(_ path: String, range: Range<Int>, maxPayload: Int) throws(StoreError) -> (Contents?, size: Int) {
        let fd: Int32
        do {
            fd = try Sys.open(path, O_RDONLY)
        } catch .io(_, _, ENOENT), .io(_, _, ENOTDIR) {
            return (.missing, 0)
        }
        defer { try? Sys.close(fd, path: path) }
        let size = try Sys.fileSize(fd, path: path)
        guard size >= headerSize else { return (.corrupt(reason: "\(size) bytes, shorter than the header"), 0) }
        guard size - headerSize <= maxPayload else { return (.corrupt(reason: "\(size) bytes, over the size limit"), 0) }
        var header: UInt64 = 0
        let headerRead = try withUnsafeMutableBytes(of: &header) { raw in
            Result { () throws(StoreError) in try Sys.read(fd, into: raw, at: 0, path: path) }
        }.get()
        guard headerRead == headerSize, withUnsafeBytes(of: header, { Array($0[0..<4]) }) == magic else {
            return (.corrupt(reason: "bad magic"), 0)
        }
        let payloadSize = size - headerSize
        guard range.lowerBound >= 0, range.upperBound <= payloadSize else { return (nil, payloadSize) }
        var done = 0
        var failure: StoreError?
        let bytes = [UInt8](unsafeUninitializedCapacity: range.count) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            do throws(StoreError) {
                while done < range.count {
                    let n = try Sys.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[done...]),
                                         at: headerSize + range.lowerBound + done, path: path)
                    if n == 0 { break }
                    done += n
                }
            } catch {
                failure = error
            }
            if done < range.count { UnsafeMutableRawBufferPointer(rebasing: raw[done...]).initializeMemory(as: UInt8.self, repeating: 0) }
            initialized = range.count
        }
        if let failure { throw failure }
        guard done == range.count else { return (.corrupt(reason: "truncated while reading"), 0) }
        return (.payload(bytes), payloadSize)
    }

    /// Fills `buffer` until full or end of file; returns the count read.
    private static func readAll(
        _ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, path: String
    ) throws(StoreError) -> Int {
        var offset = 0
        while offset < buffer.count {
            let n = try Sys.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[offset...]), path: path)
            if n == 0 { break }
            offset += n
        }
        return offset
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }
}
