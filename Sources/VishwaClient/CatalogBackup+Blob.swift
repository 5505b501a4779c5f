import Foundation
import NIOCore
import VishwaCodec
import VishwaCore
import VishwaCrypto

/// The bytes of a catalog backup as hosts keep them (docs/format.md §5): the blob each host stores
/// per generation (versions 1 and 2), the sealed manifest and host directory inside it, and the
/// decode of a version 1 snapshot. Pure functions of their arguments, with no catalog or network
/// code, so Fuzz/ compiles this file on its own: keep its imports to Foundation, NIOCore,
/// VishwaCodec, VishwaCore and VishwaCrypto.
extension CatalogBackup {
    /// The file id shards of catalog backups are bound to (no real file has it: file ids are random).
    static let fileID = FileID(high: 0x7673_6872_6261_636B, low: 0)  // "vshrback"
    static let magic = Array("VWCB".utf8)

    struct DirectoryEntry: Codable, Equatable {
        var address: String
        var publicKey: String
        var name: String?
    }

    /// What a version 2 blob seals: the coding, the hosts, and each chunk's shards.
    struct Manifest: Codable, Equatable {
        struct Chunk: Codable, Equatable {
            var length: Int
            /// Per stored shard: its index in the chunk, the directory entry of its host, its id (hex).
            var shards: [Shard]
        }
        struct Shard: Codable, Equatable {
            var index: Int
            var host: Int
            /// Hex shard id; nil: the shard travels in that host's blob.
            var id: String?
        }
        var k: Int
        var m: Int
        var chunkSize: Int
        var length: Int
        var hosts: [DirectoryEntry]
        var chunks: [Chunk]
    }

    /// The sealed manifest: 24-byte nonce ‖ XChaCha20-Poly1305 of its JSON.
    static func seal(_ manifest: Manifest, generation: UInt64, key: SecretBytes) -> [UInt8] {
        let json = [UInt8]((try? JSONEncoder().encode(manifest)) ?? Data())
        let nonce = Random.bytes(XChaCha20Poly1305.nonceLength)
        return nonce + XChaCha20Poly1305.seal(json, nonce: nonce, additionalData: manifestAD(generation), key: key)
    }

    ///     "VWCB" u8 version(2) u64 generation u32 manifest length, sealed manifest
    ///     u16 shard count, then per shard: u8 index, u32 length, shard bytes (of chunk 0)
    static func blob(generation: UInt64, manifest: [UInt8], shards: [(Int, ArraySlice<UInt8>)]) -> ByteBuffer {
        var b = ByteBuffer()
        b.writeBytes(magic)
        b.writeInteger(UInt8(2))
        b.writeInteger(generation)
        b.writeInteger(UInt32(manifest.count))
        b.writeBytes(manifest)
        b.writeInteger(UInt16(shards.count))
        for (index, shard) in shards {
            b.writeInteger(UInt8(index))
            b.writeInteger(UInt32(shard.count))
            b.writeBytes(shard)
        }
        return b
    }

    static func manifestAD(_ generation: UInt64) -> [UInt8] {
        Array("vishwa catalog backup 2".utf8) + bigEndian(generation)
    }

    static func directoryAD(_ generation: UInt64) -> [UInt8] {
        Array("vishwa host directory".utf8) + bigEndian(generation)
    }

    static func bigEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }
    }

    /// A blob from a host, checked only for shape: nothing in it is trusted until it opens.
    enum ParsedBlob {
        /// Version 2: the sealed manifest and the shards of chunk 0 this host carries.
        case manifest(generation: UInt64, sealed: [UInt8], shards: [(Int, [UInt8])])
        /// Version 1: the snapshot as one chunk, with this host's shards inline.
        case inline(V1)
    }

    struct V1 {
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
        guard b.readBytes(length: 4) == magic, let version = b.readInteger(as: UInt8.self),
              let generation = b.readInteger(as: UInt64.self) else { return nil }
        switch version {
        case 2:
            guard let length = b.readInteger(as: UInt32.self), Int(length) <= b.readableBytes,
                  Int(length) > XChaCha20Poly1305.nonceLength + 16, let sealed = b.readBytes(length: Int(length)),
                  let shards = readShards(&b, limit: 255) else { return nil }
            return .manifest(generation: generation, sealed: sealed, shards: shards)
        case 1:
            return parseV1(generation: generation, &b).map(ParsedBlob.inline)
        default:
            return nil
        }
    }

    ///     (after "VWCB" u8 version(1) u64 generation) u32 snapshot length u8 k u8 m
    ///     u32 directory length, directory (nonce ‖ sealed JSON)
    ///     u16 shard count, then per shard: u8 index, u32 length, shard bytes
    static func parseV1(generation: UInt64, _ b: inout ByteBuffer) -> V1? {
        guard let length = b.readInteger(as: UInt32.self), Int(length) <= CodingParameters.maxChunkSize,
              let k = b.readInteger(as: UInt8.self), let m = b.readInteger(as: UInt8.self), k >= 1, Int(k) + Int(m) <= 255,
              let directoryLength = b.readInteger(as: UInt32.self), Int(directoryLength) <= b.readableBytes,
              let directory = b.readBytes(length: Int(directoryLength)),
              let shards = readShards(&b, limit: Int(k) + Int(m))
        else { return nil }
        return V1(generation: generation, length: Int(length), k: Int(k), m: Int(m), directory: directory, shards: shards)
    }

    /// The shard list ending a blob: every length is checked against the bytes present before it
    /// is read, and nothing may follow.
    static func readShards(_ b: inout ByteBuffer, limit: Int) -> [(Int, [UInt8])]? {
        guard let count = b.readInteger(as: UInt16.self), Int(count) <= limit else { return nil }
        var shards: [(Int, [UInt8])] = []
        for _ in 0..<count {
            guard let index = b.readInteger(as: UInt8.self), Int(index) < limit,
                  let size = b.readInteger(as: UInt32.self), Int(size) <= b.readableBytes,
                  let bytes = b.readBytes(length: Int(size)) else { return nil }
            shards.append((Int(index), bytes))
        }
        return b.readableBytes == 0 ? shards : nil
    }

    /// Opens a version 2 blob's sealed manifest of `generation`; nil when it does not authenticate
    /// under `key`, is not the manifest JSON, or describes something the format does not allow.
    static func openManifest(_ sealed: [UInt8], generation: UInt64, key: SecretBytes) -> Manifest? {
        let n = XChaCha20Poly1305.nonceLength
        guard sealed.count > n,
              let json = try? XChaCha20Poly1305.open(Array(sealed[n...]), nonce: Array(sealed[..<n]),
                                                     additionalData: manifestAD(generation), key: key),
              let manifest = try? JSONDecoder().decode(Manifest.self, from: Data(json.exposedCopy())),
              valid(manifest) else { return nil }
        return manifest
    }

    /// Opens a version 1 blob's sealed host directory of `generation`; nil when it does not
    /// authenticate under `key` or is not the directory JSON.
    static func openDirectory(_ sealed: [UInt8], generation: UInt64, key: SecretBytes) -> [DirectoryEntry]? {
        guard sealed.count > 24,
              let json = try? XChaCha20Poly1305.open(Array(sealed[24...]), nonce: Array(sealed[..<24]),
                                                     additionalData: directoryAD(generation), key: key)
        else { return nil }
        return try? JSONDecoder().decode([DirectoryEntry].self, from: Data(json.exposedCopy()))
    }

    /// A sealed manifest is ours, but it still has to describe something the format allows.
    static func valid(_ manifest: Manifest) -> Bool {
        guard let parameters = try? CodingParameters(k: manifest.k, m: manifest.m, chunkSize: manifest.chunkSize),
              manifest.length >= 0, !manifest.chunks.isEmpty,
              manifest.chunks.count == max(1, manifest.length / parameters.chunkSize + (manifest.length % parameters.chunkSize == 0 ? 0 : 1))
        else { return false }
        var total = 0
        for chunk in manifest.chunks {
            guard chunk.length >= 0, chunk.length <= parameters.chunkSize,
                  chunk.shards.allSatisfy({ $0.index >= 0 && $0.index < parameters.n && $0.host >= 0 && $0.host < manifest.hosts.count })
            else { return false }
            total &+= chunk.length
        }
        // Shards carried in the blobs are chunk 0's of a one-chunk backup.
        let carried = manifest.chunks.contains { $0.shards.contains { $0.id == nil } }
        return total == manifest.length && (!carried || manifest.chunks.count == 1)
    }

    /// The version 1 snapshot (one chunk): k, m and the length are not sealed in that format, so
    /// they are believed only as far as the shards present bear them out.
    static func decodeV1(_ blob: V1, shards: [(Int, [UInt8])], vaultID: VaultID, key: SecretBytes) throws -> [UInt8] {
        let parameters = try CodingParameters(k: blob.k, m: blob.m, chunkSize: max(blob.length, 1))
        let piece = parameters.pieceLength(forChunkLength: blob.length)
        let segments = max(1, (piece + ShardFormat.segmentLength - 1) / ShardFormat.segmentLength)
        let sizes: Set<Int> = [ShardFormat.headerLength + piece + ShardFormat.tagLength,
                               ShardFormat.headerLength + piece + ShardFormat.tagLength * segments]
        // One shard per index: copies would only inflate the bytes counted below.
        var seen = Set<Int>()
        let fitting = shards.filter { $0.0 < parameters.n && sizes.contains($0.1.count) && seen.insert($0.0).inserted }.map(\.1)
        // Decoding allocates n pieces: never more than a few times the bytes the hosts sent.
        let present = fitting.reduce(0) { $0 + $1.count }
        guard fitting.count >= parameters.k, parameters.n * piece <= 4 * present else {
            throw ClientError.unreadable("the backup's shards do not fit its claimed size (\(blob.length) bytes, \(blob.k)+\(blob.m))")
        }
        let context = ShardContext(vaultID: vaultID, fileID: fileID, version: blob.generation, chunkIndex: 0, chunkLength: blob.length)
        return try ShardCodec(parameters: parameters).decode(fitting, context: context, key: key).plaintext
    }
}
