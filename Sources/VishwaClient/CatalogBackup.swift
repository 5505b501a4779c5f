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
public enum CatalogBackup {
    /// The file id shards of catalog backups are bound to (no real file has it: file ids are random).
    static let fileID = FileID(high: 0x7673_6872_6261_636B, low: 0)  // "vshrback"
    static let magic = Array("VWCB".utf8)

    struct DirectoryEntry: Codable {
        var address: String
        var publicKey: String
        var name: String?
    }

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

    static func sealDirectory(_ directory: [DirectoryEntry], generation: UInt64, key: SecretBytes) -> [UInt8] {
        let json = [UInt8]((try? JSONEncoder().encode(directory)) ?? Data())
        let nonce = Random.bytes(XChaCha20Poly1305.nonceLength)
        return nonce + XChaCha20Poly1305.seal(json, nonce: nonce, additionalData: directoryAD(generation), key: key)
    }

    static func directoryAD(_ generation: UInt64) -> [UInt8] {
        Array("vishwa host directory".utf8) + (0..<8).map { UInt8(truncatingIfNeeded: generation >> (56 - 8 * UInt64($0))) }
    }

    ///     "VWCB" u8 version(1) u64 generation u32 snapshot length u8 k u8 m
    ///     u32 directory length, directory (nonce ‖ sealed JSON)
    ///     u16 shard count, then per shard: u8 index, u32 length, shard bytes
    static func blob(generation: UInt64, length: Int, parameters: CodingParameters, directory: [UInt8],
                     shards: [(Int, ArraySlice<UInt8>)]) -> ByteBuffer {
        var b = ByteBuffer()
        b.writeBytes(magic)
        b.writeInteger(UInt8(1))
        b.writeInteger(generation)
        b.writeInteger(UInt32(length))
        b.writeInteger(UInt8(parameters.k))
        b.writeInteger(UInt8(parameters.m))
        b.writeInteger(UInt32(directory.count))
        b.writeBytes(directory)
        b.writeInteger(UInt16(shards.count))
        for (index, shard) in shards {
            b.writeInteger(UInt8(index))
            b.writeInteger(UInt32(shard.count))
            b.writeBytes(shard)
        }
        return b
    }

    struct ParsedBlob {
        var generation: UInt64
        var length: Int
        var k: Int
        var m: Int
        var directory: [UInt8]
        var shards: [(Int, [UInt8])]
    }

    /// Parses a blob from a host; nil when it is not one (hostile input is checked, never trusted).
    static func parse(_ body: ByteBuffer) -> ParsedBlob? {
        var b = body
        guard b.readBytes(length: 4) == magic, b.readInteger(as: UInt8.self) == 1,
              let generation = b.readInteger(as: UInt64.self), let length = b.readInteger(as: UInt32.self),
              let k = b.readInteger(as: UInt8.self), let m = b.readInteger(as: UInt8.self), k >= 1, Int(k) + Int(m) <= 255,
              let directoryLength = b.readInteger(as: UInt32.self), directoryLength < (16 << 20),
              let directory = b.readBytes(length: Int(directoryLength)), let count = b.readInteger(as: UInt16.self)
        else { return nil }
        var shards: [(Int, [UInt8])] = []
        for _ in 0..<count {
            guard let index = b.readInteger(as: UInt8.self), let size = b.readInteger(as: UInt32.self),
                  let bytes = b.readBytes(length: Int(size)) else { return nil }
            shards.append((Int(index), bytes))
        }
        guard b.readableBytes == 0 else { return nil }
        return ParsedBlob(generation: generation, length: Int(length), k: Int(k), m: Int(m), directory: directory, shards: shards)
    }
}
