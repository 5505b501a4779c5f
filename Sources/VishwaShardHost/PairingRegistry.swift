import Foundation
import VishwaCore
import VishwaCrypto
import VishwaTransport
import VishwaWire

/// Which devices may use this host, for which vault and quota, the key each vault proved itself
/// with, and the open invitations (`<dir>/devices.json`, `<dir>/invites.json`; docs/format.md §4.2).
///
/// A vault id is not a secret (any device of the vault, and anyone who sees one of its shards,
/// knows it), so it never grants access alone: the first pairing of a vault id pins the vault's
/// Ed25519 key, and every later pairing of that id must be signed by the pinned key.
///
/// The daemon and `vishwa-shard invite` change these files from different processes, so every
/// read-modify-write holds an exclusive `flock` on `<dir>/registry.lock`, and every write is
/// atomic and durable. Invitation secrets are stored only as BLAKE2b-256 hashes. Blocking: call
/// from a thread pool, never from an event loop or the cooperative pool.
public struct PairingRegistry: Sendable {
    public let dir: String
    /// The parsed devices file, reused while the file is the same one (inode, size, mtime): every
    /// PUT asks for its vault's quota, and re-reading JSON for each would be waste.
    private let cache = DeviceCache()

    public init(dir: String) { self.dir = dir }

    public struct Device: Codable, Sendable, Equatable {
        public var deviceKey: String
        public var vaultID: String
        public var quotaBytes: Int?
        public var pairedAt: Int

        enum CodingKeys: String, CodingKey {
            case deviceKey = "device_key", vaultID = "vault_id", quotaBytes = "quota_bytes", pairedAt = "paired_at"
        }
    }

    public struct Invite: Codable, Sendable, Equatable {
        public var secretHash: String
        public var createdAt: Int
        public var expiresAt: Int
        public var quotaBytes: Int?
        public var usedAt: Int?
        public var usedBy: String?

        enum CodingKeys: String, CodingKey {
            case secretHash = "secret_hash", createdAt = "created_at", expiresAt = "expires_at"
            case quotaBytes = "quota_bytes", usedAt = "used_at", usedBy = "used_by"
        }
    }

    /// The key a vault proved itself with at its first pairing on this host.
    public struct PinnedVault: Codable, Sendable, Equatable {
        public var vaultID: String
        /// Hex of the vault's Ed25519 public key.
        public var vaultKey: String
        public var pinnedAt: Int

        enum CodingKeys: String, CodingKey {
            case vaultID = "vault_id", vaultKey = "vault_key", pinnedAt = "pinned_at"
        }
    }

    /// Version 2 adds `vaults`; a version 1 file (no pins) reads as having none.
    struct DeviceFile: Codable {
        static let version = 2
        var version = Self.version
        var devices: [Device] = []
        var vaults: [PinnedVault] = []

        init() {}

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            version = try container.decode(Int.self, forKey: .version)
            guard version == 1 || version == 2 else {
                throw DecodingError.dataCorruptedError(forKey: .version, in: container,
                                                       debugDescription: "unknown version \(version)")
            }
            devices = try container.decode([Device].self, forKey: .devices)
            vaults = try container.decodeIfPresent([PinnedVault].self, forKey: .vaults) ?? []
        }
    }
    struct InviteFile: Codable { var version = 1; var invites: [Invite] = [] }

    var devicesPath: String { dir + "/devices.json" }
    var invitesPath: String { dir + "/invites.json" }

    // MARK: Invitations

    /// Records a new invitation and returns its secret (shown to the operator once, in the code).
    public func createInvite(quotaBytes: Int?, validFor seconds: Int, now: Int = Self.now()) throws(HostError) -> [UInt8] {
        let secret = Random.bytes(ClientHello.secretLength)
        try withLock { () throws(HostError) in
            var file = try load(InviteFile.self, from: invitesPath) ?? InviteFile()
            // Forget invitations that ended more than a week ago.
            file.invites.removeAll { ($0.usedAt ?? $0.expiresAt) < now - 7 * 86400 }
            file.invites.append(Invite(secretHash: Self.hash(secret), createdAt: now, expiresAt: now + seconds,
                                       quotaBytes: quotaBytes, usedAt: nil, usedBy: nil))
            try save(file, to: invitesPath)
        }
        return secret
    }

    /// Spends a one-time secret to pair `device` with `vault`, if the vault proves itself.
    ///
    /// In order: the proof must be there and its signature good (binding this host's key
    /// `hostKey`, the device, the vault id and the secret); the invitation unused and unexpired;
    /// and the vault key the pinned one, or, for a vault id with no pin yet, either a new vault
    /// id or one whose devices (paired before pins existed) include this device. Only then is
    /// the invitation marked used, before the device is recorded, so a crash in between burns
    /// the code rather than letting it be reused. A refusal leaves the invitation unspent.
    public func pair(device: [UInt8], vault: VaultID, secret: [UInt8], proof: VaultProof?, hostKey: [UInt8],
                     now: Int = Self.now()) throws(HostError) -> Authorization {
        guard let proof else {
            return .reject("this device's vishwa is too old to pair with this host (it sends no vault signature): update it")
        }
        guard proof.provesPairing(vaultID: vault, hostKey: hostKey, deviceKey: device, secret: secret) else {
            return .reject("the vault's signature of this pairing is not valid")
        }
        return try withLock { () throws(HostError) -> Authorization in
            var invites = try load(InviteFile.self, from: invitesPath) ?? InviteFile()
            let hash = Self.hash(secret)
            guard let index = invites.invites.firstIndex(where: { $0.secretHash == hash }) else {
                return .reject("unknown pairing code")
            }
            let invite = invites.invites[index]
            if invite.usedAt != nil { return .reject("pairing code already used") }
            if invite.expiresAt <= now { return .reject("pairing code expired") }

            var devices = try load(DeviceFile.self, from: devicesPath) ?? DeviceFile()
            let deviceKey = Hex.encode(device), vaultKey = Hex.encode(proof.vaultKey), vaultID = vault.description
            if let pin = devices.vaults.first(where: { $0.vaultID == vaultID }) {
                guard pin.vaultKey == vaultKey else {
                    return .reject("vault \(vaultID) is paired with this host under another vault key")
                }
            } else {
                let paired = devices.devices.filter { $0.vaultID == vaultID }
                if !paired.isEmpty && !paired.contains(where: { $0.deviceKey == deviceKey }) {
                    return .reject("vault \(vaultID) was paired with this host before vault keys were pinned: "
                                   + "pair again from a device already paired for it")
                }
                devices.vaults.append(PinnedVault(vaultID: vaultID, vaultKey: vaultKey, pinnedAt: now))
            }

            invites.invites[index].usedAt = now
            invites.invites[index].usedBy = deviceKey
            try save(invites, to: invitesPath)

            devices.version = DeviceFile.version
            devices.devices.removeAll { $0.deviceKey == deviceKey && $0.vaultID == vaultID }
            devices.devices.append(Device(deviceKey: deviceKey, vaultID: vaultID, quotaBytes: invite.quotaBytes, pairedAt: now))
            try save(devices, to: devicesPath)
            return .accept
        }
    }

    // MARK: Unpairing

    /// Forgets the pairing of `device` with `vault` (the device asked, with UNPAIR). The vault's
    /// pin stays. Returns whether there was one.
    @discardableResult
    public func unpair(device: [UInt8], vault: VaultID) throws(HostError) -> Bool {
        let key = Hex.encode(device)
        return try removeDevices { $0.deviceKey == key && $0.vaultID == vault.description }.count > 0
    }

    /// Forgets every pairing of one device, named by its 64-hex public key or, when no other
    /// paired device shares it, its 16-hex device id (`KeyFingerprint.short`). Pins stay, so
    /// only the vault itself can pair its devices again. Returns what was removed.
    public func revoke(device name: String) throws(HostError) -> [Device] {
        let name = name.lowercased()
        return try withLock { () throws(HostError) -> [Device] in
            var file = try load(DeviceFile.self, from: devicesPath) ?? DeviceFile()
            let keys = Set(file.devices.map(\.deviceKey)).filter { key in
                key == name || (name.count == 16 && Hex.decode(key).map(KeyFingerprint.short) == name)
            }
            guard keys.count <= 1 else { throw .invalidArgument("device id \(name) matches \(keys.count) devices: give the whole key") }
            guard let key = keys.first else { throw .invalidArgument("no paired device has the key or id \(name)") }
            let removed = file.devices.filter { $0.deviceKey == key }
            file.devices.removeAll { $0.deviceKey == key }
            file.version = DeviceFile.version
            try save(file, to: devicesPath)
            return removed
        }
    }

    /// Forgets every device of `vault`, and with `forgetKey` its pinned key too, after which the
    /// next pairing of that vault id pins whatever key it brings (for a vault id a stranger
    /// pinned first). Returns the devices removed; throws when the vault is unknown here.
    public func revoke(vault: VaultID, forgetKey: Bool) throws(HostError) -> [Device] {
        try withLock { () throws(HostError) -> [Device] in
            var file = try load(DeviceFile.self, from: devicesPath) ?? DeviceFile()
            let id = vault.description
            let removed = file.devices.filter { $0.vaultID == id }
            let pinned = file.vaults.contains { $0.vaultID == id }
            guard !removed.isEmpty || (forgetKey && pinned) else {
                throw .invalidArgument(pinned ? "vault \(id) has no paired device (its key stays pinned; add --forget-key to drop it)"
                                              : "vault \(id) is not paired with this host")
            }
            file.devices.removeAll { $0.vaultID == id }
            if forgetKey { file.vaults.removeAll { $0.vaultID == id } }
            file.version = DeviceFile.version
            try save(file, to: devicesPath)
            return removed
        }
    }

    private func removeDevices(where match: (Device) -> Bool) throws(HostError) -> [Device] {
        try withLock { () throws(HostError) -> [Device] in
            guard var file = try load(DeviceFile.self, from: devicesPath) else { return [] }
            let removed = file.devices.filter(match)
            guard !removed.isEmpty else { return [] }
            file.devices.removeAll(where: match)
            file.version = DeviceFile.version
            try save(file, to: devicesPath)
            return removed
        }
    }

    // MARK: Devices

    /// Every paired device (read without the lock: files are replaced atomically, and a
    /// replacement is a new inode, so the cache sees it).
    public func devices() throws(HostError) -> [Device] {
        try deviceFile().devices
    }

    /// Every vault key pinned on this host (read as `devices()` is).
    public func pinnedVaults() throws(HostError) -> [PinnedVault] {
        try deviceFile().vaults
    }

    private func deviceFile() throws(HostError) -> DeviceFile {
        var info = stat()
        guard stat(devicesPath, &info) == 0 else { return DeviceFile() }
        let identity = [UInt64(info.st_ino), UInt64(info.st_size), UInt64(info.st_mtim.tv_sec), UInt64(info.st_mtim.tv_nsec)]
        if let cached = cache.get(identity) { return cached }
        let file = try load(DeviceFile.self, from: devicesPath) ?? DeviceFile()
        cache.set(identity, file)
        return file
    }

    /// The pairing of `device` with `vault`, if any.
    public func device(_ device: [UInt8], vault: VaultID) throws(HostError) -> Device? {
        let key = Hex.encode(device)
        return try devices().first { $0.deviceKey == key && $0.vaultID == vault.description }
    }

    /// The quota of a vault: the largest of its devices' quotas; nil when any device has none.
    public func quota(of vault: VaultID) throws(HostError) -> Int? {
        let entries = try devices().filter { $0.vaultID == vault.description }
        if entries.isEmpty || entries.contains(where: { $0.quotaBytes == nil }) { return nil }
        return entries.compactMap(\.quotaBytes).max()
    }

    /// The key pinned for `vault`, if any.
    public func pinnedKey(of vault: VaultID) throws(HostError) -> [UInt8]? {
        try pinnedVaults().first { $0.vaultID == vault.description }.flatMap { Hex.decode($0.vaultKey) }
    }

    public func invites() throws(HostError) -> [Invite] {
        try load(InviteFile.self, from: invitesPath)?.invites ?? []
    }

    // MARK: Files

    public static func now() -> Int { Int(Date().timeIntervalSince1970) }

    static func hash(_ secret: [UInt8]) -> String {
        Hex.encode(BLAKE2b.hash(secret, length: 32, key: Array("vishwa invite".utf8)))
    }

    private func load<T: Decodable>(_ type: T.Type, from path: String) throws(HostError) -> T? {
        let bytes: [UInt8]
        do {
            bytes = try DurableFile.read(path, limit: 64 << 20)
        } catch {
            if error.errno == ENOENT { return nil }
            throw .file(error)
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw .corrupt(path: path, reason: "not valid JSON (\(error))")
        }
    }

    private func save<T: Encodable>(_ value: T, to path: String) throws(HostError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data()
        do { try DurableFile.replace(path, bytes: [UInt8](data) + [10], mode: 0o600) } catch { throw .file(error) }
    }

    private func withLock<R>(_ body: () throws(HostError) -> R) throws(HostError) -> R {
        let lockPath = dir + "/registry.lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .file(FileError("opening", lockPath, errno: errno)) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw .file(FileError("locking", lockPath, errno: errno)) }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}

/// The last devices file read, keyed by what identifies that file's contents.
final class DeviceCache: @unchecked Sendable {
    private let lock = NSLock()  // guards `entry`
    private var entry: (identity: [UInt64], file: PairingRegistry.DeviceFile)?

    func get(_ identity: [UInt64]) -> PairingRegistry.DeviceFile? {
        lock.lock()
        defer { lock.unlock() }
        return entry?.identity == identity ? entry?.file : nil
    }

    func set(_ identity: [UInt64], _ file: PairingRegistry.DeviceFile) {
        lock.lock()
        defer { lock.unlock() }
        entry = (identity, file)
    }
}
