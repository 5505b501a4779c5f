import Foundation
import VishwaCore
import VishwaCrypto
import VishwaTransport
import VishwaWire

/// Which devices may use this host, for which vault and quota, and the open invitations
/// (`<dir>/devices.json`, `<dir>/invites.json`; docs/format.md §4.2).
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

    struct DeviceFile: Codable { var version = 1; var devices: [Device] = [] }
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

    /// Spends a one-time secret to pair `device` with `vault`. The invitation is marked used before
    /// the device is recorded, so a crash in between burns the code rather than letting it be reused.
    public func pair(device: [UInt8], vault: VaultID, secret: [UInt8], now: Int = Self.now()) throws(HostError) -> Authorization {
        try withLock { () throws(HostError) -> Authorization in
            var invites = try load(InviteFile.self, from: invitesPath) ?? InviteFile()
            let hash = Self.hash(secret)
            guard let index = invites.invites.firstIndex(where: { $0.secretHash == hash }) else {
                return .reject("unknown pairing code")
            }
            let invite = invites.invites[index]
            if invite.usedAt != nil { return .reject("pairing code already used") }
            if invite.expiresAt <= now { return .reject("pairing code expired") }
            invites.invites[index].usedAt = now
            invites.invites[index].usedBy = Hex.encode(device)
            try save(invites, to: invitesPath)

            var devices = try load(DeviceFile.self, from: devicesPath) ?? DeviceFile()
            devices.devices.removeAll { $0.deviceKey == Hex.encode(device) && $0.vaultID == vault.description }
            devices.devices.append(Device(deviceKey: Hex.encode(device), vaultID: vault.description,
                                          quotaBytes: invite.quotaBytes, pairedAt: now))
            try save(devices, to: devicesPath)
            return .accept
        }
    }

    // MARK: Devices

    /// Every paired device (read without the lock: files are replaced atomically, and a
    /// replacement is a new inode, so the cache sees it).
    public func devices() throws(HostError) -> [Device] {
        var info = stat()
        guard stat(devicesPath, &info) == 0 else { return [] }
        let identity = [UInt64(info.st_ino), UInt64(info.st_size), UInt64(info.st_mtim.tv_sec), UInt64(info.st_mtim.tv_nsec)]
        if let cached = cache.get(identity) { return cached }
        let devices = try load(DeviceFile.self, from: devicesPath)?.devices ?? []
        cache.set(identity, devices)
        return devices
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
    private var entry: (identity: [UInt64], devices: [PairingRegistry.Device])?

    func get(_ identity: [UInt64]) -> [PairingRegistry.Device]? {
        lock.lock()
        defer { lock.unlock() }
        return entry?.identity == identity ? entry?.devices : nil
    }

    func set(_ identity: [UInt64], _ devices: [PairingRegistry.Device]) {
        lock.lock()
        defer { lock.unlock() }
        entry = (identity, devices)
    }
}
