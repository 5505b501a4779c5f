import Foundation
import NIOCore
import VishwaCore
import VishwaCrypto

/// The bytes of a catalog backup as a host keeps them (docs/format.md §5): the blob each host
/// stores per generation, and the sealed host directory inside it. Pure functions of their
/// arguments, with no catalog or network code, so Fuzz/ compiles this file on its own.
extension CatalogBackup {
    /// The file id shards of catalog backups are bound to (no real file has it: file ids are random).
    static let fileID = FileID(high: 0x7673_6872_6261_636B, low: 0)  // "vshrback"
    static let magic = Array("VWCB".utf8)

    struct DirectoryEntry: Codable, Equatable {
        var address: String
        var publicKey: String
        var name: String?
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
    /// Opens the sealed host directory of `generation`: nonce ‖ XChaCha20-Poly1305(JSON).
    /// Throws when it is too short, does not authenticate under `key`, or is not the JSON it should be.
    static func openDirectory(_ sealed: [UInt8], generation: UInt64, key: SecretBytes) throws -> [DirectoryEntry] {
        let nonceLength = XChaCha20Poly1305.nonceLength
        guard sealed.count > nonceLength else { throw ClientError.unreadable("empty host directory") }
        let json = try XChaCha20Poly1305.open(Array(sealed[nonceLength...]), nonce: Array(sealed[0..<nonceLength]),
                                              additionalData: directoryAD(generation), key: key)
        return try JSONDecoder().decode([DirectoryEntry].self, from: Data(json.exposedCopy()))
    }
}
