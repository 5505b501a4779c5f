import Foundation
import GRDB
import TestSupport
import Testing
@testable import VishwaCatalog

/// How the catalog's tables are laid out on disk, and that migrations bring old catalogs along.
@Suite(.ownThreads)
struct SchemaTests {
    static let me = Creator(uid: 1000, gid: 1000, permissions: 0o644)

    func indexSQL(_ catalog: Catalog) throws -> String? {
        try catalog.pool.read { db in
            try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'node_current_version'")
        }
    }

    /// A new catalog has 2 KiB pages, and only versioned nodes in the index of current versions;
    /// deleting a version still finds the node that points at it through that index.
    @Test func newCatalogsUseSmallPagesAndIndexOnlyVersionedNodes() throws {
        let temp = try NamespaceTests.TempCatalog()
        let catalog = temp.catalog
        #expect(try catalog.pool.read { try Int.fetchOne($0, sql: "PRAGMA page_size") } == Catalog.pageSize)
        #expect(try indexSQL(catalog)?.contains("WHERE currentVersion IS NOT NULL") == true)

        let file = try catalog.create(parent: Catalog.rootNode, name: "f", kind: .file, creator: Self.me)
        let number = try catalog.reserveVersion(file.id)
        let version = NewVersion(size: 0, chunkSize: 4 << 20, k: 1, m: 0, wrappedKey: [1], chunks: [], degraded: false)
        _ = try catalog.commitVersion(node: file.id, number: number, version: version, mtime: 1)
        try catalog.pool.write { db in
            let plan = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN UPDATE node SET currentVersion = NULL WHERE currentVersion = 1")
            #expect(plan.contains { ($0["detail"] as String).contains("node_current_version") })
            #expect(try Int64.fetchOne(db, sql: "SELECT currentVersion FROM node WHERE id = ?", arguments: [file.id]) != nil)
            try db.execute(sql: "DELETE FROM version WHERE node = ?", arguments: [file.id])
            #expect(try Int64.fetchOne(db, sql: "SELECT currentVersion FROM node WHERE id = ?", arguments: [file.id]) == nil)
        }
    }

    /// A catalog made before the partial index (its index holds every node) gets the new one
    /// when a newer program opens it, and keeps its page size and its contents.
    @Test func anOlderCatalogMigratesToThePartialIndex() throws {
        let temp = try NamespaceTests.TempCatalog()
        let path = temp.directory + "/catalog.sqlite"
        _ = try temp.catalog.create(parent: Catalog.rootNode, name: "kept", kind: .file, creator: Self.me)
        try temp.catalog.pool.write { db in
            try db.execute(sql: """
                DROP INDEX node_current_version;
                CREATE INDEX node_current_version ON node(currentVersion);
                DELETE FROM grdb_migrations WHERE identifier = 'v5-partial-version-index';
                """)
        }
        #expect(try indexSQL(temp.catalog)?.contains("WHERE") == false)
        let reopened = try Catalog(path: path, syncEveryCommit: false)
        #expect(try indexSQL(reopened)?.contains("WHERE currentVersion IS NOT NULL") == true)
        #expect(try reopened.entries(of: Catalog.rootNode).map(\.name) == ["kept"])
    }
}
