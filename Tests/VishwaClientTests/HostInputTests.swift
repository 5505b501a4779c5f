import Foundation
import NIOCore
import TestSupport
import Testing
import VishwaCodec
import VishwaCore
import VishwaCrypto
import VishwaVault
import VishwaWire
@testable import VishwaClient

/// What hosts send is checked before it is used: STAT figures, catalog backup blobs.
@Suite(.ownThreads) struct HostInputTests {
    @Test func statFiguresAreClampedAndNonsenseIsNamed() {
        let absurd = HostFigures(StatReply(capacityBytes: .max, freeBytes: .max, usedBytes: .max, shardCount: .max,
                                           quotaBytes: .max - 1, version: "x"))
        #expect(absurd.fault?.contains("more than any disk") == true)
        #expect(absurd.capacity == Int(HostFigures.limit) && absurd.free == Int(HostFigures.limit) && absurd.quota == Int(HostFigures.limit))
        let contradicting = HostFigures(StatReply(capacityBytes: 100, freeBytes: 200, usedBytes: 0, shardCount: 0, quotaBytes: nil, version: "x"))
        #expect(contradicting.fault?.contains("more free space") == true)
        let overused = HostFigures(StatReply(capacityBytes: 100, freeBytes: 10, usedBytes: 101, shardCount: 1, quotaBytes: nil, version: "x"))
        #expect(overused.fault != nil)
        let sane = HostFigures(StatReply(capacityBytes: 1 << 40, freeBytes: 1 << 39, usedBytes: 1 << 30, shardCount: 9,
                                         quotaBytes: 1 << 35, version: "x"))
        #expect(sane.fault == nil && sane.free == 1 << 39 && sane.quota == 1 << 35)
    }

    static func vault() -> Vault {
        Vault.inMemory(masterKey: SecretBytes(count: 32) { Random.fill($0) })
    }

    /// A version 1 blob (as the first releases wrote) with its directory sealed under `vault`'s key.
    static func v1Blob(vault: Vault, generation: UInt64, length: Int, k: Int, m: Int, shards: [(Int, [UInt8])]) -> ByteBuffer {
        let json = [UInt8](try! JSONEncoder().encode([CatalogBackup.DirectoryEntry(address: "127.0.0.1:1", publicKey: String(repeating: "ab", count: 32))]))
        let nonce = Random.bytes(24)
        let directory = nonce + XChaCha20Poly1305.seal(json, nonce: nonce, additionalData: CatalogBackup.directoryAD(generation),
                                                       key: vault.catalogBackupKey)
        var b = ByteBuffer(bytes: Array("VWCB".utf8) + [1])
        b.writeInteger(generation)
        b.writeInteger(UInt32(length))
        b.writeBytes([UInt8(k), UInt8(m)])
        b.writeInteger(UInt32(directory.count))
        b.writeBytes(directory)
        b.writeInteger(UInt16(shards.count))
        for (index, bytes) in shards {
            b.writeInteger(UInt8(index))
            b.writeInteger(UInt32(bytes.count))
            b.writeBytes(bytes)
        }
        return b
    }

    @Test func version1BlobsStillRestore() throws {
        let vault = Self.vault()
        let snapshot = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let parameters = try CodingParameters(k: 2, m: 1, chunkSize: snapshot.count)
        let context = ShardContext(vaultID: vault.identity.vaultID, fileID: CatalogBackup.fileID, version: 7, chunkIndex: 0,
                                   chunkLength: snapshot.count)
        let encoded = try ShardCodec(parameters: parameters).encode(snapshot, context: context, key: vault.catalogBackupKey)
        let blob = Self.v1Blob(vault: vault, generation: 7, length: snapshot.count, k: 2, m: 1,
                               shards: [(0, Array(encoded.shard(0))), (2, Array(encoded.shard(2)))])
        guard case .inline(_, let parsed)? = Recovery.open(blob, 7, vault: vault) else {
            Issue.record("a version 1 blob does not open")
            return
        }
        #expect(try Recovery.decodeV1(parsed, shards: parsed.shards, vault: vault) == snapshot)
        #expect(Recovery.open(blob, 8, vault: vault) == nil, "a blob opened as another generation")
    }

    /// k, m and the length of a version 1 blob are not sealed: a host may claim k=1, m=254 and a
    /// 256 MiB catalog over an authentic directory. Decoding by those would allocate 255 pieces of
    /// 256 MiB; they are refused because the shards present do not bear them out.
    @Test func absurdCodingInAVersion1BlobIsRefusedBeforeAnyAllocation() throws {
        let vault = Self.vault()
        let blob = Self.v1Blob(vault: vault, generation: 3, length: CodingParameters.maxChunkSize, k: 1, m: 254,
                               shards: [(0, [UInt8](repeating: 1, count: 1 << 20))])
        guard case .inline(_, let parsed)? = Recovery.open(blob, 3, vault: vault) else {
            Issue.record("the forged blob's directory should open (it is authentic)")
            return
        }
        #expect(throws: ClientError.self) { try Recovery.decodeV1(parsed, shards: parsed.shards, vault: vault) }

        // A shard of exactly the claimed size passes the size check but not the bound on n pieces.
        let claimed = 64 << 20
        let piece = ShardFormat.headerLength + claimed + ShardFormat.tagLength * (claimed / ShardFormat.segmentLength)
        let big = CatalogBackup.V1(generation: 3, length: claimed, k: 1, m: 254, directory: [], shards: [(0, [UInt8](repeating: 0, count: piece))])
        #expect(throws: ClientError.self) { try Recovery.decodeV1(big, shards: big.shards, vault: vault) }
    }

    @Test func blobsWithLengthsPastTheirBytesDoNotParse() {
        for claimed in [UInt32.max, 1 << 20] {
            var b = ByteBuffer(bytes: Array("VWCB".utf8) + [2])
            b.writeInteger(UInt64(1))
            b.writeInteger(claimed)
            b.writeBytes([UInt8](repeating: 0, count: 100))
            #expect(CatalogBackup.parse(b) == nil)
        }
        var shards = ByteBuffer(bytes: Array("VWCB".utf8) + [2])
        shards.writeInteger(UInt64(1))
        shards.writeInteger(UInt32(64))
        shards.writeBytes([UInt8](repeating: 0, count: 64))
        shards.writeInteger(UInt16(1))
        shards.writeBytes([0])
        shards.writeInteger(UInt32.max)
        #expect(CatalogBackup.parse(shards) == nil)
    }
}
