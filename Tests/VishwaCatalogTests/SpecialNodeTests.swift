import Foundation
import GRDB
import TestSupport
import Testing
@testable import VishwaCatalog

/// FIFOs, sockets and device nodes are catalog rows with a type and a device number.
@Suite(.ownThreads)
struct SpecialNodeTests {
    static let me = Creator(uid: 1000, gid: 1000, permissions: 0o640)

    @Test func specialNodesKeepTheirKindAndDeviceNumber() throws {
        let temp = try NamespaceTests.TempCatalog()
        let catalog = temp.catalog
        let fifo = try catalog.create(parent: Catalog.rootNode, name: "fifo", kind: .fifo, creator: Self.me, rdev: 99)
        let device = try catalog.create(parent: Catalog.rootNode, name: "null", kind: .characterDevice, creator: Self.me,
                                        rdev: 0x103)
        _ = try catalog.create(parent: Catalog.rootNode, name: "socket", kind: .socket, creator: Self.me)
        _ = try catalog.create(parent: Catalog.rootNode, name: "loop", kind: .blockDevice, creator: Self.me, rdev: 0x700)
        #expect(fifo.rdev == 0 && fifo.mode == 0o010640 && fifo.fileID.isEmpty)
        #expect(try catalog.attributes(of: device.id) == device)
        let listed = Dictionary(uniqueKeysWithValues: try catalog.entries(of: Catalog.rootNode).map { ($0.name, $0.attributes) })
        #expect(listed["null"]?.kind == .characterDevice && listed["null"]?.rdev == 0x103)
        #expect(listed["loop"]?.mode == 0o060640 && listed["loop"]?.rdev == 0x700)
        #expect(listed["socket"]?.kind == .socket && listed["fifo"]?.kind == .fifo)
        try catalog.rename(parent: Catalog.rootNode, name: "fifo", newParent: Catalog.rootNode, newName: "pipe", noReplace: false,
                           exchange: false, keepIfLast: { _ in false })
        _ = try catalog.unlink(parent: Catalog.rootNode, name: "socket", keepIfLast: { _ in false })
        #expect(try catalog.entries(of: Catalog.rootNode).map(\.name) == ["loop", "null", "pipe"])
        #expect(NodeKind(typeBits: 0o020644) == .characterDevice && NodeKind(typeBits: 0o140000) == .socket)
        #expect(NodeKind(typeBits: 0o170000) == nil)
    }

    /// A catalog of the version before special nodes keeps every row, id, index and trigger
    /// when a newer program rebuilds its node table.
    @Test func anOlderCatalogGainsSpecialNodes() throws {
        let directory = NSTemporaryDirectory() + "vishwa-catalog-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/catalog.sqlite"
        do {
            let queue = try DatabaseQueue(path: path)
            try Catalog.migrator.migrate(queue, upTo: "v5-partial-version-index")
            try queue.write { db in
                try db.execute(sql: """
                    INSERT INTO node (id, kind, mode, uid, gid, atime, mtime, ctime, nlink, fileID) VALUES
                        (5, 'file', 33188, 1, 1, 1, 2, 3, 2, x'00112233445566778899aabbccddeeff'),
                        (6, 'symlink', 41471, 1, 1, 1, 2, 3, 1, NULL), (9, 'dir', 16877, 1, 1, 1, 2, 3, 2, NULL);
                    UPDATE node SET target = x'6162' WHERE id = 6;
                    INSERT INTO entry (parent, name, node) VALUES (1, 'a', 5), (1, 'b', 5), (1, 'link', 6), (1, 'dir', 9);
                    INSERT INTO xattr (node, name, value) VALUES (5, 'user.x', x'01');
                    DELETE FROM node WHERE id = 9;
                    """)
            }
        }
        let catalog = try Catalog(path: path, syncEveryCommit: false)
        #expect(try catalog.entries(of: Catalog.rootNode).map(\.name) == ["a", "b", "link"])
        #expect(try catalog.attributes(of: 5).nlink == 2 && catalog.attributes(of: 5).mtime == 2)
        #expect(try catalog.symlinkTarget(6) == Array("ab".utf8))
        let fifo = try catalog.create(parent: Catalog.rootNode, name: "fifo", kind: .fifo, creator: Self.me)
        #expect(fifo.id == 10, "ids stay above every removed one (the trigger survived)")
        try catalog.pool.read { db in
            let objects = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE tbl_name = 'node' ORDER BY name")
            #expect(objects.contains("node_current_version") && objects.contains("node_ids_not_reused"))
            #expect(try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").isEmpty)
            #expect(try Data.fetchOne(db, sql: "SELECT value FROM xattr WHERE node = 5") == Data([1]))
        }
        _ = try catalog.unlink(parent: Catalog.rootNode, name: "a", keepIfLast: { _ in false })
        #expect(try catalog.attributes(of: 5).nlink == 1)
    }
}
