import Foundation
import NIOCore
import VishwaCatalog
import VishwaCodec
import VishwaCore
import VishwaCrypto
import VishwaTransport
import VishwaVault
import VishwaWire

/// The encrypted, erasure-coded copy of the catalog kept on the hosts (docs/format.md §5), so that a lost
/// laptop loses nothing: the recovery code and one host's address bring everything back.
///
/// A backup generation is the catalog snapshot cut into chunks coded like a file's (k+m shards a
/// chunk, sealed under the backup subkey, a reserved file id, the generation as version). Each
/// host receives one blob holding the sealed manifest (coding, host directory, where every shard
/// is), so recovery can start from any one host. A snapshot of one chunk travels inside the blobs
/// (each host's blob carries its shards); a larger one is stored as shards like a file's, so a
/// catalog of any size is backed up without any one message growing with it. Layout:
/// docs/format.md §5.
///
/// The blob and manifest bytes (parsing, sealing, opening) are in CatalogBackup+Blob.swift.
public enum CatalogBackup {
    /// Hosts keep this many generations; the shards of older ones are deleted.
    static let keptGenerations = 5

    /// Snapshots the catalog and stores it as the next generation. Returns the generation, or nil
    /// when fewer than 2 hosts answer (the backup waits for the next change). Any failure is also
    /// recorded in the catalog, where `vishwa status` and the mount's health show it.
    @discardableResult
    public static func backup(_ session: VaultSession, parameters: CodingParameters = .default) async throws -> UInt64? {
        do {
            let generation = try await store(session, parameters: parameters)
            if generation == nil {
                try? session.catalog.recordBackupFailure("fewer than 2 hosts online", at: Int64(Date().timeIntervalSince1970))
            }
            return generation
        } catch {
            try? session.catalog.recordBackupFailure("\(error)", at: Int64(Date().timeIntervalSince1970))
            throw error
        }
    }

    static func store(_ session: VaultSession, parameters: CodingParameters) async throws -> UInt64? {
        let catalog = session.catalog
        // The number first, so the snapshot knows it: a catalog recovered from it goes on above.
        let generation = try catalog.reserveBackupGeneration()
        let snapshot = try await session.blocking { try catalog.snapshot() }
        let statuses = try await session.hostStatuses()
        let live = zip(try session.endpoints(), statuses).filter { $0.1.online }
        guard live.count >= 2 else {
            session.logger.warning("catalog backup skipped: \(live.count) host(s) online, at least 2 needed")
            return nil
        }
        let hosts = live.map { DirectoryEntry(address: $0.0.record.address, publicKey: Hex.encode($0.0.record.publicKey),
                                              name: $0.0.record.name) }
        var manifest = Manifest(k: parameters.k, m: parameters.m, chunkSize: parameters.chunkSize, length: snapshot.count,
                                hosts: hosts, chunks: [])
        let targets = live.map { Target(id: $0.0.record.id!, endpoint: $0.0.endpoint, free: $0.1.free_bytes ?? 0) }
        // One chunk rides in the blobs, as small catalogs always did; more are stored as shards.
        var carried: [Int64: [(Int, ArraySlice<UInt8>)]] = [:]
        var stored: [GarbageShard] = []
        do {
            if snapshot.count <= parameters.chunkSize {
                let (chunk, shards) = try await carry(snapshot, generation: generation, parameters: parameters,
                                                      hosts: targets, session: session)
                manifest.chunks = [chunk]
                carried = shards
            } else {
                for (index, start) in stride(from: 0, to: snapshot.count, by: parameters.chunkSize).enumerated() {
                    let piece = Array(snapshot[start..<min(snapshot.count, start + parameters.chunkSize)])
                    manifest.chunks.append(try await storeChunk(piece, index: index, generation: generation, parameters: parameters,
                                                                hosts: targets, session: session, stored: &stored))
                }
            }
            let sealed = seal(manifest, generation: generation, key: session.vault.catalogBackupKey)
            let (holders, carriedStored) = await putBlobs(generation: generation, manifest: sealed, carried: carried,
                                                          hosts: targets, session: session)
            guard holders >= 2 else {
                throw ClientError.tooFewHosts("catalog backup generation \(generation): only \(holders) host(s) stored it, 2 needed")
            }
            guard carried.isEmpty || carriedStored >= parameters.k + 1 else {
                throw ClientError.tooFewHosts("catalog backup generation \(generation): only \(carriedStored) shards stored")
            }
        } catch {
            // Whatever was stored is of no use: gc deletes it.
            try? catalog.queueGarbage(stored)
            throw error
        }
        try catalog.recordBackup(generation, at: Int64(Date().timeIntervalSince1970), shards: stored)
        try catalog.retireBackupShards(keeping: keptGenerations)
        return generation
    }

    /// A host the backup goes to.
    struct Target: Sendable {
        var id: Int64
        var endpoint: HostEndpoint
        var free: Int
    }

    /// Codes a one-chunk snapshot; its shards travel in the blobs of the hosts they are placed on.
    static func carry(
        _ snapshot: [UInt8], generation: UInt64, parameters: CodingParameters, hosts: [Target], session: VaultSession
    ) async throws -> (Manifest.Chunk, [Int64: [(Int, ArraySlice<UInt8>)]]) {
        let (encoded, placement) = try await encode(snapshot, index: 0, generation: generation, parameters: parameters,
                                                    hosts: hosts, session: session)
        let position = Dictionary(uniqueKeysWithValues: hosts.enumerated().map { ($0.element.id, $0.offset) })
        var carried: [Int64: [(Int, ArraySlice<UInt8>)]] = [:]
        for (shardIndex, hostID) in placement.hosts.enumerated() {
            carried[hostID, default: []].append((shardIndex, encoded.shard(shardIndex)))
        }
        let shards = placement.hosts.enumerated().map { Manifest.Shard(index: $0.offset, host: position[$0.element]!, id: nil) }
        return (Manifest.Chunk(length: snapshot.count, shards: shards), carried)
    }

    /// Sends every host its blob (BACKUP_PUT); returns how many hosts took it and how many
    /// carried shards those held.
    static func putBlobs(
        generation: UInt64, manifest: [UInt8], carried: [Int64: [(Int, ArraySlice<UInt8>)]], hosts: [Target],
        session: VaultSession
    ) async -> (holders: Int, shards: Int) {
        await withTaskGroup(of: Int?.self) { group in
            for target in hosts {
                let shards = carried[target.id] ?? []
                let blob = Self.blob(generation: generation, manifest: manifest, shards: shards)
                group.addTask {
                    do {
                        _ = try await session.pool.send(.backupPut(generation: generation, data: blob), to: target.endpoint)
                        return shards.count
                    } catch {
                        session.logger.warning("catalog backup to \(target.endpoint) failed: \(error)")
                        return nil
                    }
                }
            }
            var holders = 0, shards = 0
            for await case let count? in group {
                holders += 1
                shards += count
            }
            return (holders, shards)
        }
    }

    /// Encodes chunk `index` of the snapshot and places its shards as a file chunk's.
    static func encode(
        _ plaintext: [UInt8], index: Int, generation: UInt64, parameters: CodingParameters,
        hosts: [Target], session: VaultSession
    ) async throws -> (EncodedChunk, Placement) {
        let codec = ShardCodec(parameters: parameters)
        let context = ShardContext(vaultID: session.vault.identity.vaultID, fileID: fileID, version: generation,
                                   chunkIndex: UInt64(index), chunkLength: plaintext.count)
        let key = session.vault.catalogBackupKey
        let encoded = try await session.blocking { try codec.encode(plaintext, context: context, key: key) }
        let placement = try Placer.place(
            k: parameters.k, m: parameters.m, shardBytes: encoded.shardLength, chunkIndex: Int(generation % 1000) + index,
            hosts: hosts.map { PlacementHost(id: $0.id, freeBytes: $0.free, online: true) })
        return (encoded, placement)
    }

    /// Encodes one chunk of the snapshot and stores its shards (PUT, random ids, as a file's);
    /// at least k+1 must be stored (one loss short of unreadable is no backup).
    static func storeChunk(
        _ plaintext: [UInt8], index: Int, generation: UInt64, parameters: CodingParameters,
        hosts: [Target], session: VaultSession, stored: inout [GarbageShard]
    ) async throws -> Manifest.Chunk {
        let (encoded, placement) = try await encode(plaintext, index: index, generation: generation, parameters: parameters,
                                                    hosts: hosts, session: session)
        let endpoints = Dictionary(uniqueKeysWithValues: hosts.map { ($0.id, $0.endpoint) })
        let position = Dictionary(uniqueKeysWithValues: hosts.enumerated().map { ($0.element.id, $0.offset) })
        var shards: [Manifest.Shard] = []
        await withTaskGroup(of: (Int, Int64, [UInt8])?.self) { group in
            for (shardIndex, hostID) in placement.hosts.enumerated() {
                let id = Random.bytes(16)
                let request = Request.put(id: WireShardID(bytes: id)!, data: ByteBuffer(bytes: encoded.shard(shardIndex)))
                group.addTask {
                    do {
                        _ = try await session.pool.send(request, to: endpoints[hostID]!)
                        return (shardIndex, hostID, id)
                    } catch {
                        session.logger.warning("catalog backup shard to \(endpoints[hostID]!) failed: \(error)")
                        return nil
                    }
                }
            }
            for await case let (shardIndex, hostID, id)? in group {
                stored.append(GarbageShard(shardID: id, hostID: hostID))
                shards.append(Manifest.Shard(index: shardIndex, host: position[hostID]!, id: Hex.encode(id)))
            }
        }
        guard shards.count >= parameters.k + 1 else {
            throw ClientError.tooFewHosts("catalog backup generation \(generation): only \(shards.count) shards of chunk \(index) stored")
        }
        return Manifest.Chunk(length: plaintext.count, shards: shards.sorted { $0.index < $1.index })
    }
}
