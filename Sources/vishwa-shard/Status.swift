import ArgumentParser
import Foundation
import VishwaCore
import VishwaCrypto
import VishwaShardHost
import VishwaShardStore
import VishwaTransport

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the vaults served, shards held, bytes used and free space.")

    @OptionGroup var options: DirOptions

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    func run() async throws {
        try await reportingErrors {
            let key = try HostIdentity.load(from: options.dir)
            let config = try HostConfig.load(from: options.dir)
            let survey = try ShardStore.survey(directory: options.dir + "/store")
            let registry = PairingRegistry(dir: options.dir)
            let devices = try registry.devices()
            let pinned = Set(try registry.pinnedVaults().map(\.vaultID))
            let vaultIDs = Set(devices.map(\.vaultID)).union(survey.usage.keys.map(\.description)).union(pinned).sorted()
            let vaults = vaultIDs.map { id -> VaultStatus in
                let usage = survey.usage.first { $0.key.description == id }?.value ?? VaultUsage()
                let paired = devices.filter { $0.vaultID == id }
                let deviceIDs = paired.map { Hex.decode($0.deviceKey).map(KeyFingerprint.short) ?? $0.deviceKey }
                return VaultStatus(vault_id: id, devices: paired.count, device_ids: deviceIDs, key_pinned: pinned.contains(id),
                                   shards: usage.shards, backups: usage.backups,
                                   used_bytes: usage.bytes, quota_bytes: paired.contains { $0.quotaBytes == nil } ? nil : paired.compactMap(\.quotaBytes).max())
            }
            let report = HostStatus(host_key: Hex.encode(key.publicKey), listen: config.listen,
                                    capacity_bytes: survey.totalBytes, free_bytes: survey.freeBytes, vaults: vaults)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
                return
            }
            print("host key:  \(report.host_key)")
            print("listen:    \(report.listen)")
            print("disk:      \(ByteCount(report.free_bytes)) free of \(ByteCount(report.capacity_bytes))")
            if vaults.isEmpty { print("vaults:    none yet; pair one with 'vishwa-shard invite --dir \(options.dir)'") }
            for v in vaults {
                let quota = v.quota_bytes.map { " of \(ByteCount($0)) quota" } ?? ""
                print("vault \(v.vault_id): \(v.devices) device(s), \(v.shards) shards, \(ByteCount(v.used_bytes)) used\(quota)"
                      + (v.key_pinned ? "" : v.devices > 0 ? " (vault key not pinned: paired by an older version)" : ""))
                for device in v.device_ids { print("  device \(device)") }
            }
        }
    }
}

struct VaultStatus: Encodable {
    let vault_id: String
    let devices: Int
    /// Each paired device's id (`vishwa-shard revoke` takes it).
    let device_ids: [String]
    let key_pinned: Bool
    let shards: Int
    let backups: Int
    let used_bytes: Int
    let quota_bytes: Int?
}

struct HostStatus: Encodable {
    let host_key: String
    let listen: String
    let capacity_bytes: Int
    let free_bytes: Int
    let vaults: [VaultStatus]
}
