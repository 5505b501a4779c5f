import TestSupport
import Testing
import VishwaCore
@testable import VishwaShardStore

@Suite(.ownThreads) struct ListingTests {
    @Test func hasDeleteAndPagedListAcrossAThousandShards() throws {
        try withTemporaryDirectory { dir in
            let store = try openStore(dir)
            var generator = SystemRandomNumberGenerator()
            let ids = Set((0..<1_000).map { _ in randomID(using: &generator) })
            for (i, id) in ids.enumerated() {
                try store.put(vault: vaultA, id: id, bytes: payload(1 + i % 50, seed: UInt64(i)), quota: nil)
            }
            try store.put(vault: vaultB, id: ids.first!, bytes: payload(1), quota: nil)
            let sorted = ids.sorted()

            // Pages of 100: every id exactly once, ascending, and `next` only while more follow.
            var seen: [ShardID] = []
            var after: ShardID?
            var pages = 0
            repeat {
                let page = try store.list(vault: vaultA, after: after, limit: 100)
                pages += 1
                #expect(page.ids.count == 100)
                #expect(page.next == (pages < 10 ? page.ids.last : nil))
                seen += page.ids
                after = page.next
            } while after != nil && pages <= 10
            #expect(pages == 10)
            #expect(seen == sorted)

            // `after` need not be a stored id.
            var probe = randomID(using: &generator)
            while ids.contains(probe) { probe = randomID(using: &generator) }
            let probed = try store.list(vault: vaultA, after: probe, limit: 3)
            #expect(probed.ids == Array(sorted.filter { $0 > probe }.prefix(3)))
            let end = try store.list(vault: vaultA, after: sorted.last, limit: 5)
            #expect(end.ids.isEmpty && end.next == nil)
            #expect(try store.list(vault: vaultA, after: sorted[997], limit: 5).ids == Array(sorted[998...]))
            #expect(try store.list(vault: vaultA, limit: 2_000).ids == sorted)
            #expect(try store.list(vault: vaultA, limit: 1_000).next == nil)
            #expect(try store.list(vault: vaultA, limit: 0).ids == [sorted[0]])

            // has: the size of each present shard, nil for each missing one, in the order asked.
            let missing = randomID()
            let asked = [sorted[0], missing, sorted[1]]
            let sizes = store.has(vault: vaultA, ids: asked)
            #expect(sizes[1] == nil)
            #expect(sizes[0] == (try store.get(vault: vaultA, id: sorted[0]).count))
            #expect(sizes[2] == (try store.get(vault: vaultA, id: sorted[1]).count))

            // delete: counts only what existed; usage and listing follow.
            let doomed = Array(sorted[0..<500]) + [missing, sorted[0]]
            let freed = try doomed.prefix(500).reduce(0) {
                $0 + ShardStore.charge(payloadSize: try store.get(vault: vaultA, id: $1).count)
            }
            let before = store.usage(vault: vaultA)
            #expect(try store.delete(vault: vaultA, ids: doomed) == 500)
            #expect(try store.delete(vault: vaultA, ids: doomed) == 0)
            #expect(store.usage(vault: vaultA) == VaultUsage(shards: 500, bytes: before.bytes - freed))
            #expect(store.has(vault: vaultA, ids: [sorted[0], sorted[500]]).map { $0 != nil } == [false, true])
            #expect(try store.list(vault: vaultA, limit: 1_000).ids == Array(sorted[500...]))
            // Vault B's copy of one of those ids is untouched.
            #expect(try store.get(vault: vaultB, id: ids.first!) == payload(1))
        }
    }
}
