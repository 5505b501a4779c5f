import VishwaCore
import VishwaCrypto

/// The host's own X25519 key pair: its Noise static key, which devices pin when they pair.
///
/// `<dir>/host.key`, 72 bytes (docs/format.md §4.1): magic `VWHK`, version 1, 3 zero bytes, the
/// 32-byte secret, and BLAKE2b-256 of the 40 bytes before it. Mode 0600.
public enum HostIdentity {
    static let magic = Array("VWHK".utf8)

    public static func path(in dir: String) -> String { dir + "/host.key" }

    /// Creates a fresh identity; refuses to replace one.
    public static func create(in dir: String) throws(HostError) -> X25519KeyPair {
        let pair = X25519KeyPair.generate()
        var body = magic + [1, 0, 0, 0] + pair.secretKey.exposedCopy()
        body += BLAKE2b.hash(body, length: 32)
        defer { Memory.wipe(&body) }
        do {
            try DurableFile.makeDirectory(dir)
            try DurableFile.create(path(in: dir), bytes: body, mode: 0o600)
        } catch {
            if error.errno == EEXIST { throw .alreadyInitialized(dir: dir) }
            throw .file(error)
        }
        return pair
    }

    /// Loads the identity, checking its checksum.
    public static func load(from dir: String) throws(HostError) -> X25519KeyPair {
        let file = path(in: dir)
        var bytes: [UInt8]
        do {
            bytes = try DurableFile.read(file, limit: 72)
        } catch {
            if error.errno == ENOENT { throw .notInitialized(dir: dir) }
            throw .file(error)
        }
        defer { Memory.wipe(&bytes) }
        guard bytes.count == 72, Array(bytes[0..<4]) == magic, bytes[4] == 1 else {
            throw .corrupt(path: file, reason: "not a version 1 host key of 72 bytes")
        }
        guard BLAKE2b.hash(Array(bytes[0..<40]), length: 32) == Array(bytes[40...]) else {
            throw .corrupt(path: file, reason: "checksum does not match")
        }
        return X25519KeyPair(secretKey: SecretBytes(copying: bytes[8..<40]))
    }
}

#if canImport(Glibc)
import Glibc
#endif
