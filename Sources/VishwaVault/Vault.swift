import VishwaCore
import VishwaCrypto

#if canImport(Glibc)
import Glibc
#endif

/// The folder that holds a vault's client state: `vault.key`, later `catalog.sqlite`, `cache/`.
public struct VaultHome: Sendable, Equatable {
    public let path: String

    public init(path: String) {
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    /// `--home` if given, else `$VISHWA_HOME`, else `~/.local/share/vishwa`.
    public static func resolve(_ explicit: String?, environment: [String: String]) -> VaultHome {
        if let explicit, !explicit.isEmpty { return VaultHome(path: explicit) }
        if let env = environment["VISHWA_HOME"], !env.isEmpty { return VaultHome(path: env) }
        let base = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? "/root") + "/.local/share"
        return VaultHome(path: base + "/vishwa")
    }

    public var keyFile: String { path + "/vault.key" }
}

/// An unlocked vault: the master key and what derives from it. Hold it no longer than needed.
public final class Vault: Sendable {
    public let identity: VaultIdentity
    public let masterKey: SecretBytes

    /// The device's Noise static key pair, derived from the master key (so recovery restores it).
    public var deviceKeyPair: X25519KeyPair {
        X25519KeyPair(secretKey: KeyDerivation.subkey(.deviceIdentity, from: masterKey))
    }

    /// The vault's Ed25519 signing key, derived from the master key: hosts pin its public key at
    /// the vault's first pairing and admit further devices of the vault only on its signature.
    public var signingKeyPair: Ed25519KeyPair {
        Ed25519KeyPair(seed: KeyDerivation.subkey(.vaultSigning, from: masterKey))
    }

    /// The key that wraps per-file keys in the catalog.
    public var fileKeyWrappingKey: SecretBytes { KeyDerivation.subkey(.fileKeyWrapping, from: masterKey) }

    /// The key that encrypts catalog backups.
    public var catalogBackupKey: SecretBytes { KeyDerivation.subkey(.catalogBackup, from: masterKey) }

    init(identity: VaultIdentity, masterKey: SecretBytes) {
        self.identity = identity
        self.masterKey = masterKey
    }

    /// The identity every copy of `masterKey` leads to.
    static func identity(of masterKey: SecretBytes, passphraseProtected: Bool) -> VaultIdentity {
        let idBytes = KeyDerivation.subkey(.vaultID, from: masterKey, length: 16).exposedCopy()
        let device = X25519KeyPair(secretKey: KeyDerivation.subkey(.deviceIdentity, from: masterKey))
        return VaultIdentity(vaultID: VaultID(bytes: idBytes)!, devicePublicKey: device.publicKey,
                             isPassphraseProtected: passphraseProtected)
    }

    /// The vault a master key leads to, without touching the disk (for recovery before the key
    /// file exists).
    public static func inMemory(masterKey: SecretBytes) -> Vault {
        Vault(identity: identity(of: masterKey, passphraseProtected: false), masterKey: masterKey)
    }

    // MARK: Creating and opening

    /// Creates a vault in `home` with a fresh random master key (or `masterKey`, when restoring
    /// from a recovery code). Refuses if `home` already has a key file; never overwrites one.
    @discardableResult
    public static func create(in home: VaultHome, protection: KeyProtection, masterKey: SecretBytes? = nil) throws(VaultError) -> Vault {
        if DurableFile.exists(home.keyFile) { throw .alreadyExists(path: home.keyFile) }
        if case .passphrase(let passphrase, _) = protection, passphrase.isEmpty { throw .emptyPassphrase }
        let key = masterKey ?? SecretBytes.random(count: KeyDerivation.masterKeyLength)
        var isProtected = false
        if case .passphrase = protection { isProtected = true }
        let identity = identity(of: key, passphraseProtected: isProtected)
        var bytes = try VaultKeyFile.serialize(identity: identity, masterKey: key, protection: protection)
        defer { Memory.wipe(&bytes) }
        do {
            try DurableFile.makeDirectory(home.path)
            try DurableFile.create(home.keyFile, bytes: bytes, mode: 0o600)
        } catch {
            throw error.errno == EEXIST ? .alreadyExists(path: home.keyFile) : VaultError(error)
        }
        return Vault(identity: identity, masterKey: key)
    }

    /// Reads the public identity without unlocking.
    public static func identity(in home: VaultHome) throws(VaultError) -> VaultIdentity {
        let bytes = try readKeyFile(home)
        return try VaultKeyFile.parseIdentity(bytes, path: home.keyFile)
    }

    /// Unlocks the vault; `passphrase` is needed only when the key file is protected.
    public static func open(in home: VaultHome, passphrase: [UInt8]?) throws(VaultError) -> Vault {
        var bytes = try readKeyFile(home)
        defer { Memory.wipe(&bytes) }
        let stored = try VaultKeyFile.parseIdentity(bytes, path: home.keyFile)
        let key = try VaultKeyFile.unwrapMasterKey(bytes, path: home.keyFile, passphrase: passphrase)
        // The identity in the header must be the one the key derives; anything else is tampering.
        let derived = identity(of: key, passphraseProtected: stored.isPassphraseProtected)
        guard derived == stored else {
            throw .corrupt(path: home.keyFile, reason: "its vault id or device key does not match its master key")
        }
        return Vault(identity: stored, masterKey: key)
    }

    private static func readKeyFile(_ home: VaultHome) throws(VaultError) -> [UInt8] {
        do {
            return try DurableFile.read(home.keyFile, limit: VaultKeyFile.maxLength)
        } catch {
            throw error.errno == ENOENT ? .missing(path: home.keyFile) : VaultError(error)
        }
    }
}
