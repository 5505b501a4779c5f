import CSodium
import VishwaCore

/// Subkeys of the vault master key (`crypto_kdf_derive_from_key`, BLAKE2b based).
///
/// Each purpose has its own fixed subkey id and 8-byte context, so keys for one purpose can
/// never be used for another. The ids are part of the vault format (docs/format.md §1): never change them.
public enum SubkeyPurpose: UInt64, Sendable, CaseIterable {
    /// Wraps each file's own random key in the catalog.
    case fileKeyWrapping = 1
    /// Encrypts catalog backups stored on hosts.
    case catalogBackup = 2
    /// Seed of this vault's X25519 device identity (the Noise static key).
    case deviceIdentity = 3
    /// Source of the vault id (not secret, but derived so recovery yields the same id).
    case vaultID = 4
    /// Seed of the vault's Ed25519 signing key, with which it proves itself to hosts when a device pairs.
    case vaultSigning = 5

    var context: String {
        switch self {
        case .fileKeyWrapping: return "vwfilkey"
        case .catalogBackup: return "vwbackup"
        case .deviceIdentity: return "vwdevice"
        case .vaultID: return "vwvaulid"
        case .vaultSigning: return "vwsignky"
        }
    }
}

public enum KeyDerivation {
    public static let masterKeyLength = Int(crypto_kdf_KEYBYTES)  // 32

    /// Derives the 32-byte subkey for `purpose` from `masterKey`.
    public static func subkey(_ purpose: SubkeyPurpose, from masterKey: SecretBytes, length: Int = 32) -> SecretBytes {
        precondition(masterKey.count == masterKeyLength)
        precondition(length >= Int(crypto_kdf_BYTES_MIN) && length <= Int(crypto_kdf_BYTES_MAX))
        Sodium.ensureInitialized()
        let context = Array(purpose.context.utf8).map { CChar(bitPattern: $0) }
        precondition(context.count == Int(crypto_kdf_CONTEXTBYTES))
        return SecretBytes(count: length) { out in
            masterKey.withUnsafeBytes { mk in
                let status = crypto_kdf_derive_from_key(
                    out.baseAddress!.assumingMemoryBound(to: UInt8.self), length, purpose.rawValue,
                    context, mk.baseAddress!.assumingMemoryBound(to: UInt8.self))
                precondition(status == 0, "crypto_kdf_derive_from_key failed")
            }
        }
    }
}

/// Argon2id password hashing for wrapping the master key (`crypto_pwhash` with ALG_ARGON2ID13).
public enum Argon2id {
    public static let saltLength = Int(crypto_pwhash_SALTBYTES)  // 16

    /// Cost parameters, stored beside the salt so a key file can be opened with the cost it was made with.
    public struct Cost: Sendable, Hashable {
        public let operations: UInt64
        public let memoryBytes: UInt64

        public init(operations: UInt64, memoryBytes: UInt64) {
            self.operations = operations
            self.memoryBytes = memoryBytes
        }

        /// libsodium's MODERATE: 3 passes over 256 MiB (about a second); the default for vaults.
        public static let moderate = Cost(operations: UInt64(crypto_pwhash_OPSLIMIT_MODERATE),
                                          memoryBytes: UInt64(crypto_pwhash_MEMLIMIT_MODERATE))
        /// libsodium's INTERACTIVE: 2 passes over 64 MiB; for tests and slow machines.
        public static let interactive = Cost(operations: UInt64(crypto_pwhash_OPSLIMIT_INTERACTIVE),
                                             memoryBytes: UInt64(crypto_pwhash_MEMLIMIT_INTERACTIVE))

        /// libsodium's SENSITIVE: 4 passes over 1 GiB (several seconds); for keys worth the wait.
        public static let sensitive = Cost(operations: UInt64(crypto_pwhash_OPSLIMIT_SENSITIVE),
                                           memoryBytes: UInt64(crypto_pwhash_MEMLIMIT_SENSITIVE))

        /// Whether libsodium accepts these costs; a key file with others is corrupt.
        public var isAcceptable: Bool {
            operations >= UInt64(crypto_pwhash_OPSLIMIT_MIN) && operations <= 1000
                && memoryBytes >= UInt64(crypto_pwhash_MEMLIMIT_MIN) && memoryBytes <= (8 << 30)
        }
    }

    /// Derives a 32-byte key from `passphrase` and `salt`. Throws if Argon2id cannot get its memory.
    public static func deriveKey(passphrase: [UInt8], salt: [UInt8], cost: Cost) throws(CryptoError) -> SecretBytes {
        guard salt.count == saltLength else {
            throw .invalidLength(what: "Argon2id salt", expected: saltLength, got: salt.count)
        }
        Sodium.ensureInitialized()
        var failed = false
        let key = SecretBytes(count: 32) { out in
            let status = passphrase.withUnsafeBytes { pw in
                crypto_pwhash(
                    out.baseAddress!.assumingMemoryBound(to: UInt8.self), 32,
                    UnsafeRawPointer(pw.bytePointer).assumingMemoryBound(to: CChar.self),
                    UInt64(pw.count), salt, cost.operations, Int(cost.memoryBytes),
                    crypto_pwhash_ALG_ARGON2ID13)
            }
            failed = status != 0
        }
        if failed { throw .primitiveFailed("crypto_pwhash (Argon2id; out of memory?)") }
        return key
    }
}

/// BLAKE2b (`crypto_generichash`), for ids and checksums.
public enum BLAKE2b {
    /// Hashes `data` to `length` bytes (16...64), optionally keyed.
    public static func hash(_ data: UnsafeRawBufferPointer, length: Int = 32, key: [UInt8] = []) -> [UInt8] {
        Sodium.ensureInitialized()
        precondition(length >= Int(crypto_generichash_BYTES_MIN) && length <= Int(crypto_generichash_BYTES_MAX))
        var out = [UInt8](repeating: 0, count: length)
        _ = crypto_generichash(&out, length, data.bytePointer,
                               UInt64(data.count), key.isEmpty ? nil : key, key.count)
        return out
    }

    public static func hash(_ data: [UInt8], length: Int = 32, key: [UInt8] = []) -> [UInt8] {
        data.withUnsafeBytes { hash($0, length: length, key: key) }
    }
}

/// X25519 key pairs and Diffie-Hellman (`crypto_scalarmult`).
public struct X25519KeyPair: Sendable {
    public static let keyLength = 32
    public let publicKey: [UInt8]
    public let secretKey: SecretBytes

    /// A key pair whose secret is `seed` (32 bytes; clamped by X25519 itself).
    public init(secretKey: SecretBytes) {
        precondition(secretKey.count == Self.keyLength)
        Sodium.ensureInitialized()
        var pk = [UInt8](repeating: 0, count: Self.keyLength)
        secretKey.withUnsafeBytes { sk in
            _ = crypto_scalarmult_base(&pk, sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        self.publicKey = pk
        self.secretKey = secretKey
    }

    /// A fresh random key pair.
    public static func generate() -> X25519KeyPair {
        X25519KeyPair(secretKey: .random(count: keyLength))
    }

    /// The shared secret with `peerPublicKey`; throws if the result is all zeros (a low-order point).
    public func sharedSecret(with peerPublicKey: [UInt8]) throws(CryptoError) -> SecretBytes {
        guard peerPublicKey.count == Self.keyLength else {
            throw .invalidLength(what: "X25519 public key", expected: Self.keyLength, got: peerPublicKey.count)
        }
        var status: Int32 = 0
        let shared = SecretBytes(count: Self.keyLength) { out in
            secretKey.withUnsafeBytes { sk in
                status = crypto_scalarmult(out.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                           sk.baseAddress!.assumingMemoryBound(to: UInt8.self), peerPublicKey)
            }
        }
        guard status == 0 else { throw .primitiveFailed("crypto_scalarmult (peer key of low order)") }
        return shared
    }
}

/// Short, stable names for public keys in logs and listings.
public enum KeyFingerprint {
    /// Hex of the first 8 bytes of BLAKE2b-256 of `publicKey`: a device's or host's id.
    public static func short(_ publicKey: [UInt8]) -> String {
        Hex.encode(BLAKE2b.hash(publicKey, length: 32).prefix(8))
    }
}
