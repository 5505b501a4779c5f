import Foundation
import TestSupport
import Testing
import VishwaCore
@testable import VishwaShardStore

/// Fills a 2 MiB tmpfs (tests run as root) and checks that a full disk is a clear `.diskFull`,
/// leaves nothing behind and does not disturb what is stored.
@Suite(.ownThreads, .serialized) struct DiskFullTests {
    /// Mounts a 2 MiB tmpfs at `<temp>/small` for `body` and always unmounts it.
    func withSmallFileSystem(_ body: (String) throws -> Void) throws {
        try withTemporaryDirectory { dir in
            let mountPoint = dir + "/small"
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
            let status = try run("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mountPoint])
            try #require(status == 0, "mounting a tmpfs needs root")
            defer { _ = try? run("/bin/umount", [mountPoint]) }
            try body(mountPoint)
        }
    }

    @Test func fillingTheDiskIsDiskFullAndLeavesNothingBehind() throws {
        try withSmallFileSystem { small in
            let store = try openStore(small + "/store")
            var stored: [ShardID: [UInt8]] = [:]
            var outcome: StoreError?
            for i in 0..<20 {
                let id = randomID()
                let bytes = payload(300_000, seed: UInt64(i))
                do throws(StoreError) {
                    try store.put(vault: vaultA, id: id, bytes: bytes, quota: nil)
                    stored[id] = bytes
                } catch {
                    outcome = error
                    break
                }
            }
            guard case .diskFull(let needed, let free) = outcome else {
                Issue.record("expected diskFull, got \(String(describing: outcome))")
                return
            }
            #expect(needed == 300_008 && free < needed)
            #expect(stored.count >= 4)
            #expect(temporaryFiles(under: small).isEmpty)
            #expect(store.usage(vault: vaultA) == VaultUsage(shards: stored.count, bytes: 300_008 * stored.count))
            for (id, bytes) in stored {
                #expect(try store.get(vault: vaultA, id: id) == bytes)
            }
            // Smaller shards still fit, and deleting makes room again.
            try store.put(vault: vaultA, id: randomID(), bytes: payload(1_000), quota: nil)
            #expect(try store.delete(vault: vaultA, ids: [stored.keys.first!]) == 1)
            try store.put(vault: vaultA, id: randomID(), bytes: payload(300_000), quota: nil)
        }
    }

    @Test func noSpaceDuringTheWriteIsDiskFullToo() throws {
        try withSmallFileSystem { small in
            // Skip the statvfs check so the write itself runs into ENOSPC.
            let store = try ShardStore(directory: small + "/store", freeSpaceReserve: 0, checksFreeSpace: false,
                                       logger: quietLogger)
            let first = randomID()
            try store.put(vault: vaultA, id: first, bytes: payload(1_200_000), quota: nil)
            let freeBefore = try store.capacity().freeBytes
            let second = randomID()
            do throws(StoreError) {
                try store.put(vault: vaultA, id: second, bytes: payload(1_200_000, seed: 2), quota: nil)
                Issue.record("a second 1.2 MB shard fit in a 2 MiB file system")
            } catch .diskFull(let needed, _) {
                #expect(needed == 1_200_008)
            } catch {
                Issue.record("expected diskFull, got \(error)")
            }
            #expect(temporaryFiles(under: small).isEmpty)
            #expect(try store.capacity().freeBytes == freeBefore)
            #expect(store.has(vault: vaultA, ids: [first, second]) == [1_200_000, nil])
            #expect(store.usage(vault: vaultA) == VaultUsage(shards: 1, bytes: 1_200_008))
            #expect(try store.get(vault: vaultA, id: first) == payload(1_200_000))
            // Replacing the one shard with a bigger one that does not fit keeps the old one whole.
            #expect(throws: StoreError.diskFull(needed: 1_000_008, free: freeBefore)) {
                try store.put(vault: vaultA, id: first, bytes: payload(1_000_000, seed: 3), quota: nil)
            }
            #expect(try store.get(vault: vaultA, id: first) == payload(1_200_000))
            #expect(temporaryFiles(under: small).isEmpty)
        }
    }
}
