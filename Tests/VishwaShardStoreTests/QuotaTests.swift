import Dispatch
import Synchronization
import TestSupport
import Testing
import VishwaCore
@testable import VishwaShardStore

/// A tenant trying to use more of a host than its quota lets it: tiny shards, empty shards, more
/// shards than the host allows, and races between writers and deleters of one shard.
@Suite(.ownThreads) struct QuotaTests {
    @Test func everyFileCostsAtLeastOneBlock() {
        #expect(ShardStore.charge(payloadSize: 1) == 4096)
        #expect(ShardStore.charge(payloadSize: 4088) == 4096)
        #expect(ShardStore.charge(payloadSize: 4089) == 4097)
        #expect(ShardStore.charge(fileSize: 0) == 4096)
    }

    @Test func manyTinyShardsHitTheQuota() throws {
        try withTemporaryDirectory { dir in
            let store = try openStore(dir)
            let quota = 10 * ShardStore.minimumCharge
            var stored = 0
            for _ in 0..<100 {
                do {
                    try store.put(vault: vaultA, id: randomID(), bytes: [7], quota: quota)
                    stored += 1
                } catch StoreError.quotaExceeded {
                    break
                }
            }
            #expect(stored == 10)
            #expect(store.usage(vault: vaultA) == VaultUsage(shards: 10, bytes: quota))
            // Start-up counting charges the same.
            #expect(try openStore(dir).usage(vault: vaultA) == store.usage(vault: vaultA))
        }
    }

    @Test func theShardCountIsCapped() throws {
        try withTemporaryDirectory { dir in
            let store = try ShardStore(directory: dir, freeSpaceReserve: 0, maxShardsPerVault: 3, logger: quietLogger)
            let ids = (0..<4).map { _ in randomID() }
            for id in ids.prefix(3) { try store.put(vault: vaultA, id: id, bytes: payload(10), quota: nil) }
            #expect(throws: StoreError.tooManyShards(vaultA, max: 3)) {
                try store.put(vault: vaultA, id: ids[3], bytes: payload(10), quota: nil)
            }
            #expect(store.has(vault: vaultA, ids: [ids[3]]) == [nil])
            #expect(temporaryFiles(under: dir).isEmpty)
            // Replacing a shard adds none; other vaults count their own; deleting makes room.
            try store.put(vault: vaultA, id: ids[0], bytes: payload(20), quota: nil)
            try store.put(vault: vaultB, id: ids[3], bytes: payload(10), quota: nil)
            #expect(try store.delete(vault: vaultA, ids: [ids[1]]) == 1)
            try store.put(vault: vaultA, id: ids[3], bytes: payload(10), quota: nil)
            #expect(store.usage(vault: vaultA).shards == 3)
        }
    }

    /// Writers replacing one shard with other sizes race deleters of it and writers of new shards,
    /// all under a quota: usage stays what the disk holds and never passes the quota, whatever
    /// the interleaving (a put that saw the old shard must not land as a free new one after a
    /// delete took the old one away).
    @Test func concurrentReplacementsOfOneShardKeepUsageExact() throws {
        try withTemporaryDirectory { dir in
            let store = try openStore(dir)
            let quota = 400_000
            let contested = randomID()
            let failures = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 12) { thread in
                for round in 0..<40 {
                    do {
                        switch thread % 3 {
                        case 0:
                            _ = try store.delete(vault: vaultA, ids: [contested])
                        case 1:
                            // Alternately shrinking (no quota room needed) and growing.
                            try store.put(vault: vaultA, id: contested, bytes: payload(round % 2 == 0 ? 20_000 : 90_000),
                                          quota: quota)
                        default:
                            try store.put(vault: vaultA, id: randomID(), bytes: payload(6_000), quota: quota)
                        }
                    } catch StoreError.quotaExceeded {
                        // Expected once the vault is full.
                    } catch {
                        failures.withLock { $0.append("\(error)") }
                    }
                    let used = store.usage(vault: vaultA).bytes
                    if used > quota { failures.withLock { $0.append("usage \(used) over the quota \(quota)") } }
                }
            }
            #expect(failures.withLock { Array($0.prefix(3)) } == [])
            #expect(temporaryFiles(under: dir).isEmpty)
            #expect(store.usage(vault: vaultA).bytes <= quota)
            #expect(try openStore(dir).usage(vault: vaultA) == store.usage(vault: vaultA))
        }
    }
}
