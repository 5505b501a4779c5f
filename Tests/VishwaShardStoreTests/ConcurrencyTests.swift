import Dispatch
import Synchronization
import TestSupport
import Testing
import VishwaCore
@testable import VishwaShardStore

/// Many threads put, replace, read, check and delete overlapping shards of one store at once:
///
///     thread 0:  put a₀ v1 ─ get b ─ put c v2 ─ has ─ get a ─ …
///     thread 1:  get a ─ put a v2 ─ put b v1 ─ get c ─ …        (same ids, other versions)
///     …
///     then:      every shard reads back whole as one of the versions written,
///                and usage equals what a fresh store counts on disk.
@Suite(.ownThreads) struct ConcurrencyTests {
    /// A shard's content for `version`: its size and bytes both depend on id and version, so a
    /// reader can tell a whole version from a torn mix.
    static func content(_ id: ShardID, _ version: Int) -> [UInt8] {
        let seed = UInt64(id.bytes[0]) << 8 | UInt64(id.bytes[1])
        return [UInt8(version)] + payload(500 + version * 700 + Int(id.bytes[2]), seed: seed &+ UInt64(version))
    }

    @Test func concurrentPutsAndGetsStayConsistent() throws {
        try withTemporaryDirectory { dir in
            let store = try openStore(dir)
            var generator = SystemRandomNumberGenerator()
            let ids = (0..<64).map { _ in randomID(using: &generator) }
            let failures = Mutex<[String]>([])
            let threads = 16
            let rounds = 60

            DispatchQueue.concurrentPerform(iterations: threads) { thread in
                for round in 0..<rounds {
                    let id = ids[(thread * 7 + round * 13) % ids.count]
                    let version = (thread + round) % 3 + 1
                    do {
                        switch (thread + round) % 4 {
                        case 0, 1:
                            try store.put(vault: vaultA, id: id, bytes: Self.content(id, version), quota: nil)
                        case 2:
                            let bytes = try store.get(vault: vaultA, id: id)
                            guard let first = bytes.first, (1...3).contains(Int(first)),
                                  bytes == Self.content(id, Int(first))
                            else {
                                failures.withLock { $0.append("torn read of \(id)") }
                                continue
                            }
                        default:
                            let sizes = store.has(vault: vaultA, ids: [id, ids[round % ids.count]])
                            if let size = sizes[0], !(1...3).contains(where: { Self.content(id, $0).count == size }) {
                                failures.withLock { $0.append("odd size \(size) of \(id)") }
                            }
                        }
                    } catch StoreError.notFound {
                        // Not written yet by any thread: fine.
                    } catch {
                        failures.withLock { $0.append("\(error)") }
                    }
                }
            }
            #expect(failures.withLock { $0 } == [])
            #expect(temporaryFiles(under: dir).isEmpty)

            // Every shard present reads back as one whole version; usage matches the disk.
            var bytes = 0
            var shards = 0
            for id in ids {
                guard let stored = try? store.get(vault: vaultA, id: id) else { continue }
                #expect(stored == Self.content(id, Int(stored[0])))
                bytes += ShardStore.charge(payloadSize: stored.count)
                shards += 1
            }
            #expect(shards > 0)
            #expect(store.usage(vault: vaultA) == VaultUsage(shards: shards, bytes: bytes))
            #expect(try openStore(dir).usage(vault: vaultA) == store.usage(vault: vaultA))
        }
    }

    @Test func concurrentPutsAndDeletesOfTheSameShardsKeepUsageExact() throws {
        try withTemporaryDirectory { dir in
            let store = try openStore(dir)
            var generator = SystemRandomNumberGenerator()
            let ids = (0..<8).map { _ in randomID(using: &generator) }
            DispatchQueue.concurrentPerform(iterations: 8) { thread in
                for round in 0..<40 {
                    let id = ids[(thread + round) % ids.count]
                    if (thread + round) % 3 == 0 {
                        _ = try? store.delete(vault: vaultA, ids: [id])
                    } else {
                        try? store.put(vault: vaultA, id: id, bytes: Self.content(id, thread % 3 + 1), quota: nil)
                    }
                }
            }
            let fresh = try openStore(dir)
            #expect(store.usage(vault: vaultA) == fresh.usage(vault: vaultA))
        }
    }

    @Test func concurrentPutsNeverOvershootTheQuota() throws {
        try withTemporaryDirectory { dir in
            let store = try openStore(dir)
            let refused = Atomic<Int>(0)
            DispatchQueue.concurrentPerform(iterations: 40) { _ in
                do {
                    try store.put(vault: vaultA, id: randomID(), bytes: payload(9_992), quota: 100_000)
                } catch StoreError.quotaExceeded {
                    refused.add(1, ordering: .relaxed)
                } catch {
                    Issue.record("\(error)")
                }
            }
            #expect(store.usage(vault: vaultA) == VaultUsage(shards: 10, bytes: 100_000))
            #expect(refused.load(ordering: .relaxed) == 30)
        }
    }
}
