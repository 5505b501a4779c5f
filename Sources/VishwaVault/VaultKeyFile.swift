import VishwaCore
import VishwaCrypto

/// The public facts of a vault, readable from its key file without the passphrase.
public struct VaultIdentity: Sendable, Equatable {
    public let vaultID: VaultID
    /// This device's X25519 public key: its Noise static key when talking to hosts.
    public let devicePublicKey: [UInt8]
    public let isPassphraseProtected: Bool

    /// A short, stable name for this device: the first 8 bytes of BLAKE2b-256 of its public key, in hex.
    public var deviceID: String { Self.deviceID(for: devicePublicKey) }

    public static func deviceID(for publicKey: [UInt8]) -> String {
        KeyFingerprint.short(publicKey)
    }
}

/// How a new key file protects the master key.
public enum KeyProtection: Sendable {
    /// Argon2id over the passphrase wraps the key (the default).
    case passphrase([UInt8], cost: Argon2id.Cost)
    /// The key lies unwrapped in a 0600 file, for unattended mounts and demos.
    case none
}

/// `vault.key`, format version 1 (docs/format.md §1):
///
///     offset size  field
///          0    4  magic "VWKY"
///          4    1  format version (1)
///          5    1  protection: 0 none, 1 Argon2id passphrase
///          6    2  zero
///          8   16  vault id
///         24   32  device public key (X25519)
///         56       none:       32 master key
///                  passphrase:  8 Argon2id operations (BE), 8 memory bytes (BE), 16 salt,
///                              24 nonce, 48 XChaCha20-Poly1305(master key) with bytes 0..<88 as AAD
///        end   32  BLAKE2b-256 of everything before it
///
/// The trailing checksum tells a damaged file apart from a wrong passphrase; the AEAD's associated
/// data binds the header to the wrapped key.
enum VaultKeyFile {
    static let magic = Array("VWKY".utf8)
    static let formatVersion: UInt8 = 1
    static let plainLength = 56 + 32 + 32
    static let wrappedLength = 56 + 8 + 8 + 16 + 24 + 48 + 32
    static let maxLength = wrappedLength

    static func serialize(identity: VaultIdentity, masterKey: SecretBytes, protection: KeyProtection) throws(VaultError) -> [UInt8] {
        var out = magic + [formatVersion]
        switch protection {
        case .none: out.append(0)
        case .passphrase: out.append(1)
        }
        out += [0, 0] + identity.vaultID.bytes + identity.devicePublicKey
        switch protection {
        case .none:
            out += masterKey.exposedCopy()
        case .passphrase(let passphrase, let cost):
            guard !passphrase.isEmpty else { throw .emptyPassphrase }
            let salt = Random.bytes(Argon2id.saltLength)
            let nonce = Random.bytes(XChaCha20Poly1305.nonceLength)
            out += bigEndian(cost.operations) + bigEndian(cost.memoryBytes) + salt
            let wrappingKey: SecretBytes
            do { wrappingKey = try Argon2id.deriveKey(passphrase: passphrase, salt: salt, cost: cost) } catch {
                throw .corrupt(path: "(new key)", reason: error.description)
            }
            var plain = masterKey.exposedCopy()
            defer { Memory.wipe(&plain) }
            let ad = out
            out += nonce + XChaCha20Poly1305.seal(plain, nonce: nonce, additionalData: ad, key: wrappingKey)
        }
        out += BLAKE2b.hash(out, length: 32)
        return out
    }

    /// Checks length, checksum, magic and version; returns the identity and the protection byte.
    static func parseIdentity(_ bytes: [UInt8], path: String) throws(VaultError) -> VaultIdentity {
        guard bytes.count >= 8 else { throw .truncated(path: path, size: bytes.count, expected: plainLength) }
        guard Array(bytes[0..<4]) == magic else { throw .corrupt(path: path, reason: "not a Vishwarupa key file") }
        guard bytes[4] == formatVersion else {
            throw .corrupt(path: path, reason: "format version \(bytes[4]) is newer than this program understands")
        }
        let expected: Int
        switch bytes[5] {
        case 0: expected = plainLength
        case 1: expected = wrappedLength
        default: throw .corrupt(path: path, reason: "unknown protection \(bytes[5])")
        }
        guard bytes.count >= expected else { throw .truncated(path: path, size: bytes.count, expected: expected) }
        guard bytes.count == expected else {
            throw .corrupt(path: path, reason: "\(bytes.count - expected) unexpected trailing bytes")
        }
        guard BLAKE2b.hash(Array(bytes[0..<expected - 32]), length: 32) == Array(bytes[(expected - 32)...]) else {
            throw .corrupt(path: path, reason: "checksum does not match (the file was altered or damaged)")
        }
        guard bytes[6] == 0, bytes[7] == 0 else { throw .corrupt(path: path, reason: "reserved bytes 6..<8 are not zero") }
        return VaultIdentity(vaultID: VaultID(bytes: bytes[8..<24])!, devicePublicKey: Array(bytes[24..<56]),
                             isPassphraseProtected: bytes[5] == 1)
    }

    /// Recovers the master key; `passphrase` is required for protected files.
    static func unwrapMasterKey(_ bytes: [UInt8], path: String, passphrase: [UInt8]?) throws(VaultError) -> SecretBytes {
        let identity = try parseIdentity(bytes, path: path)
        guard identity.isPassphraseProtected else { return SecretBytes(copying: bytes[56..<88]) }
        guard let passphrase else { throw .passphraseRequired(path: path) }
        let cost = Argon2id.Cost(operations: readBigEndian(bytes[56..<64]), memoryBytes: readBigEndian(bytes[64..<72]))
        guard cost.isAcceptable else { throw .corrupt(path: path, reason: "implausible Argon2id cost") }
        let salt = Array(bytes[72..<88])
        let nonce = Array(bytes[88..<112])
        let sealed = Array(bytes[112..<160])
        do {
            let wrappingKey = try Argon2id.deriveKey(passphrase: passphrase, salt: salt, cost: cost)
            return try XChaCha20Poly1305.open(sealed, nonce: nonce, additionalData: Array(bytes[0..<88]), key: wrappingKey)
        } catch .authenticationFailed {
            throw .wrongPassphrase(path: path)
        } catch {
            throw .corrupt(path: path, reason: error.description)
        }
    }

    private static func bigEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> UInt64(56 - 8 * $0)) }
    }

    private static func readBigEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }
}
