import VishwaCrypto

#if canImport(Glibc)
import Glibc
#endif

/// The one reader of `--passphrase-file` for vishwa and vishwafs, so that a file that unlocks
/// the vault for one unlocks it for the other.
public enum PassphraseFile {
    /// Far above any passphrase; a larger file is not one (a wrong path, a disk image).
    public static let limit = 64 << 10

    /// The first line of `path` without its line ending ("\n" or "\r\n"): what `echo`, editors
    /// and password managers write. A pipe or FIFO works (`--passphrase-file <(pass show vault)`).
    public static func read(_ path: String) throws(VaultError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadablePassphrase(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = Glibc.read(fd, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else {
                Memory.wipe(&buffer)
                Memory.wipe(&bytes)
                throw .unreadablePassphrase(path: path, reason: String(cString: strerror(errno)))
            }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[..<count])
            guard bytes.count <= limit else {
                Memory.wipe(&buffer)
                Memory.wipe(&bytes)
                throw .unreadablePassphrase(path: path, reason: "larger than \(limit / 1024) KiB, so not a passphrase")
            }
        }
        Memory.wipe(&buffer)
        if let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) { bytes.removeSubrange(newline...) }
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        return bytes
    }
}
