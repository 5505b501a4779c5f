import Foundation
import TestSupport
import Testing
@testable import VishwaCatalog

/// The mount's namespace in the catalog, without FUSE: one temporary database per test.
@Suite(.ownThreads)
struct NamespaceTests {
    final class TempCatalog {
        let directory = NSTemporaryDirectory() + "vishwa-catalog-" + UUID().uuidString.prefix(8)
        let catalog: Catalog
        init() throws {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            catalog = try Catalog(path: directory + "/catalog.sqlite", syncEveryCommit: false)
        }
        deinit { try? FileManager.default.removeItem(atPath: directory) }
    }

    static let me = Creator(uid: 1000, gid: 1000, permissions: 0o644)
    static let root = Catalog.rootNode

    static func namespaceError(_ body: () throws -> Void) -> NamespaceError? {
        do {
            try body()
            return nil
        } catch let CatalogError.namespace(error) {
            return error
        } catch {
            return nil
        }
    }

    /// The mount's catalog checkpoints on its own schedule: without it the log only grows; with
    /// it the log starts over even while commits keep coming, and nothing committed is lost.
    @Test func checkpointsKeepTheLogBoundedUnderSteadyCommits() throws {
        let temp = try TempCatalog()
        let catalog = temp.catalog
        let log = temp.directory + "/catalog.sqlite-wal"
        func logBytes() throws -> Int { (try FileManager.default.attributesOfItem(atPath: log)[.size] as? Int) ?? 0 }
        for i in 0..<400 { _ = try catalog.create(parent: Self.root, name: "a\(i)", kind: .file, creator: Self.me) }
        let unchecked = try logBytes()
        #expect(unchecked > 400 * 4096, "automatic checkpoints should be off: the log holds \(unchecked) bytes")
        try catalog.checkpoint(restartAfterPages: 16)
        for round in 0..<8 {
            for i in 0..<100 { _ = try catalog.create(parent: Self.root, name: "b\(round)-\(i)", kind: .file, creator: Self.me) }
            try catalog.checkpoint(restartAfterPages: 16)
        }
        // 800 more commits wrote into the log from its start again, not after the first 400.
        #expect(try logBytes() == unchecked)
        let reopened = try Catalog(path: temp.directory + "/catalog.sqlite", syncEveryCommit: false)
        #expect(try reopened.entries(of: Self.root).count == 1200)
    }

    @Test func createLookupAndListKeepDirectoryLinkCounts() throws {
        let temp = try TempCatalog()
        let catalog = temp.catalog
        let folder = try catalog.create(parent: Self.root, name: "docs", kind: .directory, creator: Self.me)
        let file = try catalog.create(parent: folder.id, name: "a.txt", kind: .file, creator: Self.me)
        _ = try catalog.create(parent: folder.id, name: "sub", kind: .directory, creator: Self.me)
        #expect(file.kind == .file && file.mode == 0o100644 && file.fileID.count == 16 && file.version == 0)
        #expect(try catalog.lookup(parent: folder.id, name: "a.txt").id == file.id)
        #expect(try catalog.attributes(of: folder.id).nlink == 3)  // ., its entry, sub's ..
        #expect(try catalog.entries(of: folder.id).map(\.name) == ["a.txt", "sub"])
        #expect(Self.namespaceError { _ = try catalog.create(parent: folder.id, name: "a.txt", kind: .file, creator: Self.me) } == .exists)
        #expect(Self.namespaceError { _ = try catalog.lookup(parent: file.id, name: "x") } == .notDirectory)
        #expect(Self.namespaceError { _ = try catalog.lookup(parent: folder.id, name: "missing") } == .notFound)
    }

    @Test func renameFollowsPosix() throws {
        let temp = try TempCatalog()
        let catalog = temp.catalog
        let a = try catalog.create(parent: Self.root, name: "a", kind: .directory, creator: Self.me)
        let b = try catalog.create(parent: Self.root, name: "b", kind: .directory, creator: Self.me)
        let inner = try catalog.create(parent: a.id, name: "inner", kind: .directory, creator: Self.me)
        let f = try catalog.create(parent: a.id, name: "f", kind: .file, creator: Self.me)
        let g = try catalog.create(parent: b.id, name: "g", kind: .file, creator: Self.me)
        let never: (Int64) -> Bool = { _ in false }
        // Into its own subdirectory: EINVAL. Over a non-empty directory: ENOTEMPTY. File over dir, dir over file.
        #expect(Self.namespaceError { try catalog.rename(parent: Self.root, name: "a", newParent: inner.id, newName: "x", keepIfLast: never) } == .invalid)
        #expect(Self.namespaceError { try catalog.rename(parent: Self.root, name: "b", newParent: Self.root, newName: "a", keepIfLast: never) } == .notEmpty)
        #expect(Self.namespaceError { try catalog.rename(parent: a.id, name: "f", newParent: a.id, newName: "inner", keepIfLast: never) } == .isDirectory)
        #expect(Self.namespaceError { try catalog.rename(parent: a.id, name: "inner", newParent: a.id, newName: "f", keepIfLast: never) } == .notDirectory)
        #expect(Self.namespaceError { try catalog.rename(parent: a.id, name: "f", newParent: b.id, newName: "g", noReplace: true, keepIfLast: never) } == .exists)
        // Replacing a file: the old one is gone with its last name.
        try catalog.rename(parent: a.id, name: "f", newParent: b.id, newName: "g", keepIfLast: never)
        #expect(try catalog.lookup(parent: b.id, name: "g").id == f.id)
        #expect(Self.namespaceError { _ = try catalog.attributes(of: g.id) } == .gone)
        // A directory moving between parents moves its '..' link.
        try catalog.rename(parent: a.id, name: "inner", newParent: b.id, newName: "inner", keepIfLast: never)
        #expect(try catalog.attributes(of: a.id).nlink == 2 && catalog.attributes(of: b.id).nlink == 3)
        // Exchange swaps the two names.
        let h = try catalog.create(parent: Self.root, name: "h", kind: .file, creator: Self.me)
        try catalog.rename(parent: Self.root, name: "h", newParent: b.id, newName: "g", exchange: true, keepIfLast: never)
        #expect(try catalog.lookup(parent: b.id, name: "g").id == h.id && catalog.lookup(parent: Self.root, name: "h").id == f.id)
    }

    /// A node's id is its inode number, and the kernel may still know a removed one: removing the
    /// newest node, by any path, must not give its id to the next node.
    @Test func nodeIDsAreNeverGivenAgain() throws {
        let temp = try TempCatalog()
        let catalog = temp.catalog
        var highest: Int64 = 0
        var count = 0
        /// Creates the next node, which must be numbered above every node before it.
        func make(_ kind: NodeKind = .file) throws -> (id: Int64, name: String) {
            count += 1
            let name = "n\(count)"
            let id = try catalog.create(parent: Self.root, name: name, kind: kind, creator: Self.me).id
            #expect(id > highest, "node \(id) repeats an id at or below \(highest)")
            highest = max(highest, id)
            return (id, name)
        }
        let never: (Int64) -> Bool = { _ in false }, always: (Int64) -> Bool = { _ in true }
        // Removed through the mount's unlink, rmdir, unlink-while-open and orphan sweeps, and the CLI's rm.
        try catalog.unlink(parent: Self.root, name: try make().name, keepIfLast: never)
        try catalog.rmdir(parent: Self.root, name: try make(.directory).name)
        try catalog.removeFile(node: try make().id)
        let open = try make()
        try catalog.unlink(parent: Self.root, name: open.name, keepIfLast: always)
        try catalog.removeOrphan(open.id)
        try catalog.unlink(parent: Self.root, name: try make().name, keepIfLast: always)
        #expect(try catalog.removeOrphans() == 1)
        _ = try make()
        // An older node's removal leaves the numbering as it was.
        let older = try make(), newer = try make()
        try catalog.unlink(parent: Self.root, name: older.name, keepIfLast: never)
        #expect(try make().id == newer.id + 1)
    }

    /// The mount backs the catalog up when its change count moved: the backup's own bookkeeping
    /// must not move it (or every backup would call for the next), and a generation number is
    /// handed out once, whoever backs up.
    @Test func backupGenerationsAreHandedOutOnceAndAreNotChanges() throws {
        let temp = try TempCatalog()
        let catalog = temp.catalog
        let before = catalog.changeCount
        let first = try catalog.reserveBackupGeneration(), second = try catalog.reserveBackupGeneration()
        #expect(second == first + 1)
        try catalog.recordBackup(second, at: 20)
        try catalog.recordBackup(first, at: 10)  // an older backup finishing late lowers nothing
        #expect(try catalog.meta("backupGeneration") == Int64(second) && catalog.meta("backupTime") == 20)
        #expect(catalog.changeCount == before)
        try catalog.recordBackup(9, at: 30)  // as a recovery from generation 9 leaves it
        #expect(try catalog.reserveBackupGeneration() == 10)
        _ = try catalog.create(parent: Self.root, name: "x", kind: .file, creator: Self.me)
        #expect(catalog.changeCount == before + 1)
    }

    @Test func hardLinksAndUnlinkWhileOpen() throws {
        let temp = try TempCatalog()
        let catalog = temp.catalog
        let file = try catalog.create(parent: Self.root, name: "one", kind: .file, creator: Self.me)
        #expect(try catalog.link(node: file.id, parent: Self.root, name: "two").nlink == 2)
        #expect(Self.namespaceError { _ = try catalog.link(node: Self.root, parent: Self.root, name: "loop") } == .notPermitted)
        try catalog.unlink(parent: Self.root, name: "one", keepIfLast: { _ in false })
        #expect(try catalog.attributes(of: file.id).nlink == 1)
        // The last name goes while the file is open: the node stays, nameless, until removeOrphan.
        try catalog.unlink(parent: Self.root, name: "two", keepIfLast: { _ in true })
        #expect(try catalog.attributes(of: file.id).nlink == 0)
        #expect(try !catalog.hasNames(file.id))
        try catalog.removeOrphan(file.id)
        #expect(Self.namespaceError { _ = try catalog.attributes(of: file.id) } == .gone)
        // A directory is not unlinked, and rmdir wants it empty.
        let folder = try catalog.create(parent: Self.root, name: "d", kind: .directory, creator: Self.me)
        _ = try catalog.create(parent: folder.id, name: "x", kind: .file, creator: Self.me)
        #expect(Self.namespaceError { try catalog.unlink(parent: Self.root, name: "d", keepIfLast: { _ in false }) } == .isDirectory)
        #expect(Self.namespaceError { try catalog.rmdir(parent: Self.root, name: "d") } == .notEmpty)
    }

    @Test func versionNumbersNeverRepeatAndPendingShardsBecomeGarbage() throws {
        let temp = try TempCatalog()
        let catalog = temp.catalog
        let host = try catalog.addHost(HostRecord(address: "127.0.0.1:1", publicKey: [UInt8](repeating: 7, count: 32), addedAt: 0)).record.id!
        let file = try catalog.create(parent: Self.root, name: "f", kind: .file, creator: Self.me)
        let first = try catalog.reserveVersion(file.id)
        let shard = ShardRecord(index: 0, shardID: [UInt8](repeating: 1, count: 16), hostID: host)
        try catalog.addPending([(shard.shardID, host)])
        let chunk = ChunkRecord(position: 0, fileID: file.fileID, encodedVersion: first, index: 0, length: 10, k: 1, m: 0,
                                shards: [shard])
        let version = NewVersion(size: 10, chunkSize: 4 << 20, k: 1, m: 0, wrappedKey: [1, 2, 3], chunks: [chunk], degraded: false)
        let committed = try catalog.commitVersion(node: file.id, number: first, version: version, mtime: 5)
        #expect(committed.version == first && committed.size == 10 && committed.mtime == 5)
        // Truncating to nothing drops every version, yet the next number is still new.
        try catalog.truncateToEmpty(file.id)
        #expect(try catalog.reserveVersion(file.id) > first)
        #expect(try catalog.garbage(olderThan: 0).map(\.shardID) == [shard.shardID])
        // Pending shards of a crashed writer go to the garbage queue at the next mount.
        let orphan = [UInt8](repeating: 2, count: 16)
        try catalog.addPending([(orphan, host)])
        try catalog.abandonPending()
        #expect(Set(try catalog.garbage(olderThan: 0).map(\.shardID)) == [shard.shardID, orphan])
        // Unlinking a file's last name frees its versions' shards (a file without versions has none).
        let other = try catalog.create(parent: Self.root, name: "g", kind: .file, creator: Self.me)
        let number = try catalog.reserveVersion(other.id)
        let kept = ShardRecord(index: 0, shardID: [UInt8](repeating: 3, count: 16), hostID: host)
        let otherChunk = ChunkRecord(position: 0, fileID: other.fileID, encodedVersion: number, index: 0, length: 10, k: 1, m: 0,
                                     shards: [kept])
        let otherVersion = NewVersion(size: 10, chunkSize: 4 << 20, k: 1, m: 0, wrappedKey: [1], chunks: [otherChunk],
                                      degraded: false)
        _ = try catalog.commitVersion(node: other.id, number: number, version: otherVersion, mtime: 6)
        try catalog.unlink(parent: Self.root, name: "g", keepIfLast: { _ in false })
        try catalog.unlink(parent: Self.root, name: "f", keepIfLast: { _ in false })
        #expect(Set(try catalog.garbage(olderThan: 0).map(\.shardID)) == [shard.shardID, orphan, kept.shardID])
        // The CLI's rm says how many shards it queued: those of this file only.
        let third = try catalog.create(parent: Self.root, name: "h", kind: .file, creator: Self.me)
        let thirdNumber = try catalog.reserveVersion(third.id)
        let pair = [4, 5].map { ShardRecord(index: $0 - 4, shardID: [UInt8](repeating: UInt8($0), count: 16), hostID: host) }
        let thirdChunk = ChunkRecord(position: 0, fileID: third.fileID, encodedVersion: thirdNumber, index: 0, length: 10, k: 1,
                                     m: 1, shards: pair)
        let thirdVersion = NewVersion(size: 10, chunkSize: 4 << 20, k: 1, m: 1, wrappedKey: [1], chunks: [thirdChunk],
                                      degraded: false)
        _ = try catalog.commitVersion(node: third.id, number: thirdNumber, version: thirdVersion, mtime: 7)
        #expect(try catalog.removeFile(node: third.id) == 2)
        #expect(try catalog.garbage(olderThan: 0).count == 5)
    }

    /// A chunk's seal id (shard format 3) is kept with it, and with every later version that
    /// reuses the chunk; a chunk sealed before seal ids reads back without one.
    @Test func sealIDsStayWithTheirChunks() throws {
        let temp = try TempCatalog()
        let catalog = temp.catalog
        let host = try catalog.addHost(HostRecord(address: "127.0.0.1:1", publicKey: [UInt8](repeating: 7, count: 32), addedAt: 0)).record.id!
        let file = try catalog.create(parent: Self.root, name: "f", kind: .file, creator: Self.me)
        let first = try catalog.reserveVersion(file.id)
        let seal = [UInt8](repeating: 0x5e, count: 16)
        let chunks = [(0, seal), (1, nil)].map { position, seal in
            ChunkRecord(position: position, fileID: file.fileID, encodedVersion: first, index: position, length: 10, k: 1, m: 0,
                        shards: [ShardRecord(index: 0, shardID: [UInt8](repeating: UInt8(position), count: 16), hostID: host)],
                        sealID: seal)
        }
        let version = NewVersion(size: 20, chunkSize: 10, k: 1, m: 0, wrappedKey: [1], chunks: chunks, degraded: false)
        _ = try catalog.commitVersion(node: file.id, number: first, version: version, mtime: 5)
        let stored = try catalog.file(node: file.id).chunks
        #expect(stored.map(\.sealID) == [seal, nil])
        // The next version reuses chunk 0 as it is.
        let second = try catalog.reserveVersion(file.id)
        let next = NewVersion(size: 10, chunkSize: 10, k: 1, m: 0, wrappedKey: [1], chunks: [stored[0]], degraded: false)
        _ = try catalog.commitVersion(node: file.id, number: second, version: next, mtime: 6)
        #expect(try catalog.file(node: file.id).chunks.map(\.sealID) == [seal])
    }

    /// The mount's background loops (gc every few minutes, host pings every 10 s) are not changes
    /// the mount backs up when they find nothing new; a dead upload's shards become garbage.
    @Test func backgroundBookkeepingIsNotAChange() throws {
        let temp = try TempCatalog()
        let catalog = temp.catalog
        let host = try catalog.addHost(HostRecord(address: "127.0.0.1:1", publicKey: [UInt8](repeating: 7, count: 32), addedAt: 0)).record.id!
        try catalog.addPending([([UInt8](repeating: 1, count: 16), host)], owner: "upload:4242")
        let before = catalog.changeCount
        #expect(try catalog.abandonDeadUploads { _ in true } == 0)
        #expect(catalog.changeCount == before)
        #expect(try catalog.abandonDeadUploads { $0 != 4242 } == 1)
        #expect(catalog.changeCount == before + 1)
        #expect(try catalog.garbage(olderThan: 0).map(\.shardID) == [[UInt8](repeating: 1, count: 16)])
        // Nor is a host's ping (every 10 s from the mount) a change to back up.
        try catalog.recordContact(hostID: host, capacityBytes: 100, freeBytes: 50, usedBytes: 50, quotaBytes: nil, at: 1)
        #expect(catalog.changeCount == before + 1)
    }

    @Test func extendedAttributesAndTags() throws {
        let temp = try TempCatalog()
        let catalog = temp.catalog
        let file = try catalog.create(parent: Self.root, name: "f", kind: .file, creator: Self.me)
        try catalog.setExtendedAttribute(file.id, name: "user.a", value: [0, 1, 2], create: true, replace: false)
        #expect(Self.namespaceError { try catalog.setExtendedAttribute(file.id, name: "user.a", value: [], create: true, replace: false) } == .exists)
        #expect(Self.namespaceError { try catalog.setExtendedAttribute(file.id, name: "user.b", value: [], create: false, replace: true) } == .noAttribute)
        #expect(try catalog.extendedAttribute(file.id, name: "user.a") == [0, 1, 2])
        #expect(try catalog.extendedAttributeNames(file.id) == ["user.a"])
        try catalog.removeExtendedAttribute(file.id, name: "user.a")
        #expect(Self.namespaceError { _ = try catalog.extendedAttribute(file.id, name: "user.a") } == .noAttribute)
        try catalog.setTags(file.id, ["b", "a", "a"])
        #expect(try catalog.tags(of: file.id) == ["a", "b"])
    }
}
