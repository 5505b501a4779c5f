import Foundation
import NIOCore
import VishwaCatalog
import VishwaCodec
import VishwaCore
import VishwaCrypto
import VishwaTransport
import VishwaVault
import VishwaWire

/// The encrypted, erasure-coded copy of the catalog kept on the hosts (DESIGN §6), so that a lost
/// laptop loses nothing: the recovery code and one host's address bring everything back.
///
/// A backup generation is the catalog snapshot coded like one chunk (k+m shards, the backup subkey,
/// a reserved file id, the generation as version) and spread over the hosts like any chunk. Each
/// host's blob also carries the host directory (every host holding this generation), encrypted,
/// so recovery can start from any one host. Blob layout: docs/format.md §5.
/// The blob and the host directory in it are read and written by CatalogBackup+Blob.swift, which
/// depends on no catalog or network code, so the fuzz package (Fuzz/) can compile it alone.
public enum CatalogBackup {
    /// Snapshots the catalog and stores it as the next generation. Returns the generation, or nil
    /// when fewer than 2 hosts answer (the backup waits for the next change).
    @discardableResult
    public static func backup(_ session: VaultSession, parameters: CodingParameters = .default) async throws -> UInt64? {
        let catalog = session.catalog
        // The number first, so the snapshot knows it: a catalog recovered from it goes on above.
        let generation = try catalog.reserveBackupGeneration()
        let snapshot = try await session.blocking { try catalog.snapshot() }
        let statuses = try await session.hostStatuses()
        let endpoints = try session.endpoints()
        let live = zip(endpoints, statuses).filter { $0.1.online }
        guard live.count >= 2 else {
            session.logger.warning("catalog backup skipped: \(live.count) host(s) online, at least 2 needed")
            return nil
        }
        let codecParameters = try CodingParameters(k: parameters.k, m: parameters.m, chunkSize: max(snapshot.count, 1))
        let codec = ShardCodec(parameters: codecParameters)
        let context = ShardContext(vaultID: session.vault.identity.vaultID, fileID: fileID, version: generation,
                                   chunkIndex: 0, chunkLength: snapshot.count)
        let key = session.vault.catalogBackupKey
        let encoded = try await session.blocking { try codec.encode(snapshot, context: context, key: key) }
        let placement = try Placer.place(
            k: parameters.k, m: parameters.m, shardBytes: encoded.shardLength, chunkIndex: Int(generation % 1000),
            hosts: live.map { PlacementHost(id: $0.0.record.id!, freeBytes: $0.1.free_bytes ?? 0, online: true) })

        let directory = live.map { DirectoryEntry(address: $0.0.record.address, publicKey: Hex.encode($0.0.record.publicKey),
                                                  name: $0.0.record.name) }
        let sealedDirectory = sealDirectory(directory, generation: generation, key: key)
        var stored = 0
        try await withThrowingTaskGroup(of: Int.self) { group in
            for (entry, _) in live {
                let indices = placement.hosts.enumerated().filter { $0.element == entry.record.id! }.map(\.offset)
                let blob = Self.blob(generation: generation, length: snapshot.count, parameters: parameters,
                                     directory: sealedDirectory, shards: indices.map { ($0, encoded.shard($0)) })
                let endpoint = entry.endpoint
                group.addTask {
                    do {
                        _ = try await session.pool.send(.backupPut(generation: generation, data: blob), to: endpoint)
                        return indices.count
                    } catch {
                        session.logger.warning("catalog backup to \(endpoint) failed: \(error)")
                        return 0
                    }
                }
            }
            for try await count in group { stored += count }
        }
        guard stored >= parameters.k + 1 else {
            session.logger.warning("catalog backup generation \(generation): only \(stored) shards stored")
            return nil
        }
        try catalog.recordBackup(generation, at: Int64(Date().timeIntervalSince1970))
        return generation
    }
}
