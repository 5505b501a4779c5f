import Foundation
import TestSupport
import Testing
@testable import VishwaCatalog

/// The catalog's record of its own backups: which shards each generation has, which are old.
@Suite(.ownThreads)
struct BackupBookkeepingTests {
    @Test func shardsOfGenerationsOlderThanTheNewestFiveStoredAreQueuedForGC() throws {
        let temp = try NamespaceTests.TempCatalog()
        let catalog = temp.catalog
        let host = try catalog.addHost(HostRecord(address: "127.0.0.1:1", publicKey: [UInt8](repeating: 7, count: 32), addedAt: 0)).record.id!
        let shard = { (generation: UInt64) in GarbageShard(shardID: [UInt8](repeating: UInt8(generation), count: 16), hostID: host) }
        // Generations 1-3 were stored as shards, 4-8 small enough to travel in the hosts' blobs:
        // the hosts no longer keep 1-3, so none of their shards is of use.
        for generation in UInt64(1)...8 {
            try catalog.recordBackup(generation, at: 0, shards: generation <= 3 ? [shard(generation)] : [])
            try catalog.retireBackupShards(keeping: 5)
        }
        #expect(Set(try catalog.garbage(olderThan: 0)) == Set([shard(1), shard(2), shard(3)]))
        let changes = catalog.changeCount
        try catalog.recordBackupFailure("host gone", at: 5)
        #expect(try catalog.backupFailure()?.reason == "host gone")
        try catalog.recordBackup(9, at: 6)
        #expect(try catalog.backupFailure() == nil)
        #expect(catalog.changeCount == changes, "backup bookkeeping counted as a change (it would call for another backup)")
    }
}
