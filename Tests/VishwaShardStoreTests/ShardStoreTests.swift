import Foundation
import TestSupport
import Testing
import VishwaCore
@testable import VishwaShardStore

@Suite(.ownThreads) struct ShardStoreTests {
    @Test func putThenGetReturnsTheBytesAndAnyRangeOfThem() throws {
        try withTemporaryDirectory { dir in
            let store = try openStore(dir)
            let id = randomID()
            let bytes = payload(10_000)
            try store.put(vault: vaultA, id: id, bytes: bytes, quota: nil)
            #expect(try store.get(vault: vaultA, id: id) == bytes)
            #expect(try store.get(vault: vaultA, id: id, range: 0..<10_000) == bytes)
            #expect(try store.get(vault: vaultA, id: id, range: 123..<4567) == Array(bytes[123..<4567]))
            #expect(try store.get(vault: vaultA, id: id, range: 9_999..<10_000) == [bytes[9_999]])
            #expect(try store.get(vault: vaultA, id: id, range: 10_000..<10_000) == [])
            #expect(store.usage(vault: vaultA) == VaultUsage(shards: 1, bytes: 10_008))
            // The other vault sees nothing of it.
            #expect(throws: StoreError.notFound(id)) { try store.get(vault: vaultB, id: id) }
        }
    }

    @Test func rangesOutsideTheShardAreRefused() throws {
        try withTemporaryDirectory { dir in
            let store = try openStore(dir)
            let id = randomID()
            try store.put(vault: vaultA, id: id, bytes: payload(100), quota: nil)
            for range in [0..<101, 100..<101, 200..<300, -1..<5] {
                #expect(throws: StoreError.badRange(id, range, size: 100)) {
                    try store.get(vault: vaultA, id: id, range: range)
                }
            }
        }
    }

    @Test func writesTheDocumentedFileFormatAtTheDocumentedPath() throws {
        try withTemporaryDirectory { dir in
            let store = try openStore(dir)
            let id = try #require(ShardID(hex: "ab00000000000000000000000000002a"))
            try store.put(vault: vaultA, id: id, bytes: Array("123456789".utf8), quota: nil)
            let path = "\(dir)/vaults/0123456789abcdef1111222233334444/ab/ab00000000000000000000000000002a"
            let file = try #require(FileManager.default.contents(atPath: path))
            // "VWSF", then CRC32C("123456789") = 0xE3069283 big-endian (RFC 3720 check value), then the bytes.
            #expect([UInt8](file) == Array("VWSF".utf8) + [0xe3, 0x06, 0x92, 0x83] + Array("123456789".utf8))
            let mode = try FileManager.default.attributesOfItem(atPath: dir + "/vaults")[.posixPermissions] as? Int
            #expect(mode == 0o700)
            #expect(temporaryFiles(under: dir).isEmpty)
        }
    }

    @Test func emptyShardsAreRefused() throws {
        try withTemporaryDirectory { dir in
            let store = try openStore(dir)
            let id = randomID()
            #expect(throws: StoreError.empty(id)) { try store.put(vault: vaultA, id: id, bytes: [], quota: nil) }
            #expect(store.has(vault: vaultA, ids: [id]) == [nil])
            #expect(store.usage(vault: vaultA) == VaultUsage())
            #expect(temporaryFiles(under: dir).isEmpty)
        }
    }

    @Test func putReplacesAnExistingShardAndItsUsage() throws {
        try withTemporaryDirectory { dir in
            let store = try openStore(dir)
            let id = randomID()
            try store.put(vault: vaultA, id: id, bytes: payload(1_000, seed: 1), quota: nil)
            try store.put(vault: vaultA, id: id, bytes: payload(300, seed: 2), quota: nil)
            #expect(try store.get(vault: vaultA, id: id) == payload(300, seed: 2))
            #expect(store.usage(vault: vaultA) == VaultUsage(shards: 1, bytes: ShardStore.minimumCharge))
            #expect(temporaryFiles(under: dir).isEmpty)
        }
    }

    @Test func aFlippedByteOnDiskIsCorruptAndScrubNamesExactlyThatShard() throws {
        try withTemporaryDirectory { dir in
            let store = try openStore(dir)
            let good = randomID()
            let bad = randomID()
            try store.put(vault: vaultA, id: good, bytes: payload(5_000, seed: 1), quota: nil)
            try store.put(vault: vaultA, id: bad, bytes: payload(5_000, seed: 2), quota: nil)
            try flipByte(at: 8 + 4_321, of: shardPath(dir, vaultA, bad))
            let before = FileManager.default.contents(atPath: shardPath(dir, vaultA, bad))

            #expect(throws: StoreError.corrupt(bad)) { try store.get(vault: vaultA, id: bad) }
            // A range read checks the header, not the CRC of the whole shard (each segment of a
            // shard carries its own tag, which the client checks): the rotted byte comes back as is.
            #expect(try store.get(vault: vaultA, id: bad, range: 0..<10) == Array(payload(5_000, seed: 2)[0..<10]))
            #expect(try store.get(vault: vaultA, id: bad, range: 4_321..<4_322) != [payload(5_000, seed: 2)[4_321]])
            #expect(try store.get(vault: vaultA, id: good) == payload(5_000, seed: 1))

            let report = try store.scrub(vault: vaultA)
            #expect(report.corrupt == [vaultA: [bad]])
            #expect(report.corruptBackups.isEmpty)
            #expect(report.checked == 2)
            #expect(report.bytes == 5_000)
            #expect(try store.scrub().corrupt == [vaultA: [bad]])
            #expect(try store.scrub(vault: vaultB) == ScrubReport())
            // Scrub never modifies anything.
            #expect(FileManager.default.contents(atPath: shardPath(dir, vaultA, bad)) == before)
            #expect(store.usage(vault: vaultA) == VaultUsage(shards: 2, bytes: 10_016))
        }
    }

    @Test func aDamagedHeaderIsCorrupt() throws {
        try withTemporaryDirectory { dir in
            let store = try openStore(dir)
            let magic = randomID()
            let crc = randomID()
            try store.put(vault: vaultA, id: magic, bytes: payload(64), quota: nil)
            try store.put(vault: vaultA, id: crc, bytes: payload(64), quota: nil)
            try flipByte(at: 1, of: shardPath(dir, vaultA, magic))
            try flipByte(at: 6, of: shardPath(dir, vaultA, crc))
            #expect(throws: StoreError.corrupt(magic)) { try store.get(vault: vaultA, id: magic) }
            #expect(throws: StoreError.corrupt(crc)) { try store.get(vault: vaultA, id: crc) }
            #expect(try store.scrub(vault: vaultA).corrupt == [vaultA: [magic, crc].sorted()])
        }
    }

    @Test(arguments: [0, 3, 8, 8 + 999])
    func aTruncatedFileIsCorrupt(length: Int) throws {
        try withTemporaryDirectory { dir in
            let store = try openStore(dir)
            let id = randomID()
            try store.put(vault: vaultA, id: id, bytes: payload(1_000), quota: nil)
            #expect(truncate(shardPath(dir, vaultA, id), off_t(length)) == 0)
            #expect(throws: StoreError.corrupt(id)) { try store.get(vault: vaultA, id: id) }
            #expect(try store.scrub(vault: vaultA).corrupt == [vaultA: [id]])
        }
    }

    @Test func missingShardsAreNotFound() throws {
        try withTemporaryDirectory { dir in
            let store = try openStore(dir)
            let id = randomID()
            #expect(throws: StoreError.notFound(id)) { try store.get(vault: vaultA, id: id) }
            #expect(throws: StoreError.notFound(id)) { try store.get(vault: vaultA, id: id, range: 0..<1) }
            #expect(store.has(vault: vaultA, ids: [id]) == [nil])
            #expect(try store.delete(vault: vaultA, ids: [id]) == 0)
            #expect(try store.list(vault: vaultA, limit: 10).ids.isEmpty)
        }
    }

    @Test func overQuotaPutsWriteNothingAndLeaveUsageAlone() throws {
        try withTemporaryDirectory { dir in
            let store = try openStore(dir)
            let first = randomID()
            let second = randomID()
            try store.put(vault: vaultA, id: first, bytes: payload(10_000), quota: 15_000)
            #expect(throws: StoreError.quotaExceeded(vaultA, needed: 20_016, quota: 15_000)) {
                try store.put(vault: vaultA, id: second, bytes: payload(10_000), quota: 15_000)
            }
            #expect(store.has(vault: vaultA, ids: [second]) == [nil])
            #expect(FileManager.default.fileExists(atPath: shardPath(dir, vaultA, second)) == false)
            #expect(temporaryFiles(under: dir).isEmpty)
            #expect(store.usage(vault: vaultA) == VaultUsage(shards: 1, bytes: 10_008))

            // Replacing subtracts the old size: 10,008 → 14,992 fits a quota of 15,000.
            try store.put(vault: vaultA, id: first, bytes: payload(14_992), quota: 15_000)
            #expect(store.usage(vault: vaultA) == VaultUsage(shards: 1, bytes: 15_000))
            // Another vault has its own usage.
            try store.put(vault: vaultB, id: second, bytes: payload(10_000), quota: 15_000)
        }
    }

    @Test func shardsOverSixtyFourMiBAreRefused() throws {
        try withTemporaryDirectory { dir in
            let store = try openStore(dir)
            let id = randomID()
            let max = ShardStore.maxShardSize
            #expect(max == 64 << 20)
            #expect(throws: StoreError.tooLarge(size: max + 1, max: max)) {
                try store.put(vault: vaultA, id: id, bytes: [UInt8](repeating: 7, count: max + 1), quota: nil)
            }
            #expect(store.has(vault: vaultA, ids: [id]) == [nil])
            #expect(store.usage(vault: vaultA) == VaultUsage())
        }
    }

    @Test func openingRemovesLeftoverTempFilesAndSaysHowMany() throws {
        try withTemporaryDirectory { dir in
            let id = randomID()
            do {
                let store = try openStore(dir)
                try store.put(vault: vaultA, id: id, bytes: payload(100), quota: nil)
                try store.putBackup(vault: vaultA, generation: 1, bytes: payload(50), quota: nil)
            }
            let leftovers = [
                "\(dir)/vaults/\(vaultA)/\(id.description.prefix(2))/.tmp-0123456789abcdef",
                "\(dir)/vaults/\(vaultA)/.tmp-stray",
                "\(dir)/backups/\(vaultA)/.tmp-fedcba9876543210",
            ]
            for path in leftovers {
                #expect(FileManager.default.createFile(atPath: path, contents: Data(payload(77))))
            }
            let capture = LogCapture()
            let store = try openStore(dir, logger: capture.logger)
            #expect(temporaryFiles(under: dir).isEmpty)
            #expect(capture.contains("removed temp files of interrupted writes count=3"))
            #expect(try store.get(vault: vaultA, id: id) == payload(100))
            #expect(store.usage(vault: vaultA) == VaultUsage(shards: 1, backups: 1, bytes: 2 * ShardStore.minimumCharge))
        }
    }

    @Test func aFreshStoreRecomputesUsageFromDisk() throws {
        try withTemporaryDirectory { dir in
            var expected: [VaultID: VaultUsage] = [:]
            do {
                let store = try openStore(dir)
                var ids: [ShardID] = []
                for i in 0..<40 {
                    let id = randomID()
                    ids.append(id)
                    try store.put(vault: i % 3 == 0 ? vaultB : vaultA, id: id, bytes: payload(100 + i), quota: nil)
                }
                #expect(try store.delete(vault: vaultA, ids: Array(ids[1..<6])) == 4)  // ids[3] is vault B's
                try store.put(vault: vaultA, id: ids[1], bytes: payload(7), quota: nil)
                try store.putBackup(vault: vaultB, generation: 9, bytes: payload(1_000), quota: nil)
                expected = [vaultA: store.usage(vault: vaultA), vaultB: store.usage(vault: vaultB)]
                #expect(store.vaults() == [vaultA, vaultB])
            }
            // Something the store did not write is ignored, not counted.
            #expect(FileManager.default.createFile(atPath: "\(dir)/vaults/\(vaultA)/notes.txt", contents: Data()))
            let reopened = try openStore(dir)
            #expect(reopened.usage(vault: vaultA) == expected[vaultA])
            #expect(reopened.usage(vault: vaultB) == expected[vaultB])
            #expect(reopened.usage(vault: vaultA).shards == 40 - 14 - 4 + 1)
            #expect(reopened.vaults() == [vaultA, vaultB])
        }
    }

    @Test func surveyCountsWithoutTouchingAnything() throws {
        try withTemporaryDirectory { dir in
            let missing = try ShardStore.survey(directory: dir + "/not/yet")
            #expect(missing.usage.isEmpty && missing.totalBytes > 0)
            #expect(!FileManager.default.fileExists(atPath: dir + "/not"))

            let store = try openStore(dir)
            let id = randomID()
            try store.put(vault: vaultA, id: id, bytes: payload(100), quota: nil)
            try store.putBackup(vault: vaultB, generation: 1, bytes: payload(10), quota: nil)
            let temporary = "\(dir)/vaults/\(vaultA)/\(id.description.prefix(2))/.tmp-00000000000000aa"
            #expect(FileManager.default.createFile(atPath: temporary, contents: Data(payload(5))))
            let survey = try ShardStore.survey(directory: dir)
            #expect(survey.usage == [vaultA: VaultUsage(shards: 1, bytes: ShardStore.minimumCharge),
                                     vaultB: VaultUsage(backups: 1, bytes: ShardStore.minimumCharge)])
            #expect(survey.temporaryFiles == 1)
            #expect(FileManager.default.fileExists(atPath: temporary))
        }
    }

    @Test func capacityReportsTheFileSystem() throws {
        try withTemporaryDirectory { dir in
            let store = try openStore(dir)
            let capacity = try store.capacity()
            #expect(capacity.totalBytes > 0)
            #expect(capacity.freeBytes > 0 && capacity.freeBytes <= capacity.totalBytes)
        }
    }

    @Test func errorsDescribeWhatFailedOnWhat() throws {
        let id = try #require(ShardID(hex: "00112233445566778899aabbccddeeff"))
        #expect(StoreError.notFound(id).description.contains("00112233445566778899aabbccddeeff"))
        #expect(StoreError.quotaExceeded(vaultA, needed: 3 << 20, quota: 2 << 20).description
            == "vault 0123456789abcdef1111222233334444 would use 3 MiB, over its quota of 2 MiB; "
            + "delete data or raise the quota")
        #expect(StoreError.io(operation: "fsync", path: "/x/y", errno: ENOSPC).description
            == "fsync /x/y failed: No space left on device")
        #expect(StoreError.badRange(id, 5..<9, size: 6).description.contains("5..<9"))
        for error: StoreError in [.corrupt(id), .backupNotFound(vaultA, generation: nil), .diskFull(needed: 1, free: 0),
                                  .tooLarge(size: 1, max: 0), .corruptBackup(vaultA, generation: 3)] {
            #expect(!error.description.contains("\n"))
        }
    }
}
