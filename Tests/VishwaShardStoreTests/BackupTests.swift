import Foundation
import TestSupport
import Testing
import VishwaCore
@testable import VishwaShardStore

@Suite(.ownThreads) struct BackupTests {
    @Test func keepsOnlyTheNewestFiveAndGetsTheNewestByDefault() throws {
        try withTemporaryDirectory { dir in
            let store = try openStore(dir)
            #expect(throws: StoreError.backupNotFound(vaultA, generation: nil)) { try store.getBackup(vault: vaultA) }
            for generation in UInt64(1)...8 {
                try store.putBackup(vault: vaultA, generation: generation, bytes: payload(100, seed: generation),
                                    quota: nil)
            }
            #expect(try store.listBackups(vault: vaultA) == [4, 5, 6, 7, 8])
            let newest = try store.getBackup(vault: vaultA)
            #expect(newest.generation == 8 && newest.bytes == payload(100, seed: 8))
            #expect(try store.getBackup(vault: vaultA, generation: 5).bytes == payload(100, seed: 5))
            #expect(throws: StoreError.backupNotFound(vaultA, generation: 3)) {
                try store.getBackup(vault: vaultA, generation: 3)
            }
            #expect(store.usage(vault: vaultA) == VaultUsage(shards: 0, backups: 5, bytes: 5 * ShardStore.minimumCharge))
            #expect(try store.listBackups(vault: vaultB) == [])

            // The file name is the generation in 20 zero-padded decimal digits.
            let names = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/backups/\(vaultA)").sorted()
            #expect(names.first == "00000000000000000004")
            try store.putBackup(vault: vaultA, generation: .max, bytes: payload(1), quota: nil)
            #expect(FileManager.default.fileExists(atPath: "\(dir)/backups/\(vaultA)/18446744073709551615"))
            #expect(try store.listBackups(vault: vaultA) == [5, 6, 7, 8, .max])
            #expect(try store.getBackup(vault: vaultA).generation == .max)
        }
    }

    @Test func backupsCountAgainstTheQuotaNetOfWhatTheyPrune() throws {
        try withTemporaryDirectory { dir in
            let store = try openStore(dir)
            // Charges: the shard 49,992 + 8; each backup 9,992 + 8.
            try store.put(vault: vaultA, id: randomID(), bytes: payload(49_992), quota: nil)
            for generation in UInt64(1)...5 {
                try store.putBackup(vault: vaultA, generation: generation, bytes: payload(9_992), quota: 100_000)
            }
            // Generation 6 prunes generation 1, so 50,000 + 5 × 10,000 stays within 100,000.
            try store.putBackup(vault: vaultA, generation: 6, bytes: payload(9_992), quota: 100_000)
            #expect(store.usage(vault: vaultA).bytes == 100_000)
            #expect(throws: StoreError.quotaExceeded(vaultA, needed: 100_001, quota: 100_000)) {
                try store.putBackup(vault: vaultA, generation: 7, bytes: payload(9_993), quota: 100_000)
            }
            #expect(try store.listBackups(vault: vaultA) == [2, 3, 4, 5, 6])
            #expect(throws: StoreError.quotaExceeded(vaultA, needed: 104_096, quota: 100_000)) {
                try store.put(vault: vaultA, id: randomID(), bytes: payload(1), quota: 100_000)
            }
        }
    }

    @Test func aCorruptBackupIsNeverReturnedAndScrubFindsIt() throws {
        try withTemporaryDirectory { dir in
            let store = try openStore(dir)
            try store.putBackup(vault: vaultA, generation: 1, bytes: payload(300), quota: nil)
            try store.putBackup(vault: vaultA, generation: 2, bytes: payload(300), quota: nil)
            try flipByte(at: 100, of: "\(dir)/backups/\(vaultA)/00000000000000000002")
            #expect(throws: StoreError.corruptBackup(vaultA, generation: 2)) { try store.getBackup(vault: vaultA) }
            #expect(try store.getBackup(vault: vaultA, generation: 1).bytes == payload(300))
            let report = try store.scrub()
            #expect(report.corruptBackups == [vaultA: [2]])
            #expect(report.corrupt.isEmpty)
            #expect(report.checked == 2 && report.bytes == 300)
        }
    }

    @Test func backupsOverTheLimitAreRefused() throws {
        try withTemporaryDirectory { dir in
            let store = try openStore(dir)
            let max = ShardStore.maxBackupSize
            #expect(throws: StoreError.tooLarge(size: max + 1, max: max)) {
                try store.putBackup(vault: vaultA, generation: 1, bytes: [UInt8](repeating: 0, count: max + 1),
                                    quota: nil)
            }
            #expect(try store.listBackups(vault: vaultA) == [])
        }
    }
}
