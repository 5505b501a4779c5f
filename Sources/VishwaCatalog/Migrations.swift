import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#endif

extension Catalog {
    /// Every schema change, in order. A shipped migration is never edited: add a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-hosts") { db in
            try db.create(table: "host") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("address", .text).notNull()
                t.column("publicKey", .blob).notNull().unique()
                t.column("name", .text)
                t.column("capacityBytes", .integer)
                t.column("freeBytes", .integer)
                t.column("usedBytes", .integer)
                t.column("quotaBytes", .integer)
                t.column("lastSeen", .integer)
                t.column("state", .text).notNull().defaults(to: "active")
                t.column("addedAt", .integer).notNull()
            }
        }
        migrator.registerMigration("v2-namespace") { db in
            // Inodes: the catalog's ids are the kernel's inode numbers; 1 is the root directory.
            try db.execute(sql: """
                CREATE TABLE node (
                    id INTEGER PRIMARY KEY,
                    kind TEXT NOT NULL CHECK (kind IN ('dir', 'file', 'symlink')),
                    mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL,
                    size INTEGER NOT NULL DEFAULT 0,
                    atime INTEGER NOT NULL, mtime INTEGER NOT NULL, ctime INTEGER NOT NULL,
                    nlink INTEGER NOT NULL DEFAULT 1,
                    target BLOB,
                    fileID BLOB UNIQUE,
                    currentVersion INTEGER REFERENCES version(id) ON DELETE SET NULL,
                    degraded INTEGER NOT NULL DEFAULT 0
                );
                -- Directory entries: a name in a directory pointing at a node (hard links share a node).
                CREATE TABLE entry (
                    parent INTEGER NOT NULL REFERENCES node(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    node INTEGER NOT NULL REFERENCES node(id) ON DELETE CASCADE,
                    PRIMARY KEY (parent, name)
                ) WITHOUT ROWID;
                CREATE INDEX entry_node ON entry(node);
                CREATE TABLE xattr (
                    node INTEGER NOT NULL REFERENCES node(id) ON DELETE CASCADE,
                    name TEXT NOT NULL, value BLOB NOT NULL,
                    PRIMARY KEY (node, name)
                ) WITHOUT ROWID;
                CREATE TABLE tag (
                    node INTEGER NOT NULL REFERENCES node(id) ON DELETE CASCADE,
                    tag TEXT NOT NULL,
                    PRIMARY KEY (node, tag)
                ) WITHOUT ROWID;
                CREATE INDEX tag_tag ON tag(tag);
                -- A committed version of a file: its size, coding, and its key wrapped by the vault.
                CREATE TABLE version (
                    id INTEGER PRIMARY KEY,
                    node INTEGER NOT NULL REFERENCES node(id) ON DELETE CASCADE,
                    number INTEGER NOT NULL,
                    size INTEGER NOT NULL, chunkSize INTEGER NOT NULL, k INTEGER NOT NULL, m INTEGER NOT NULL,
                    wrappedKey BLOB NOT NULL,
                    createdAt INTEGER NOT NULL,
                    UNIQUE (node, number)
                );
                -- A coded chunk; fileID, encodedVersion and idx are what its shards' tags bind, so an
                -- unchanged chunk can be shared by later versions at the same position.
                CREATE TABLE chunk (
                    id INTEGER PRIMARY KEY,
                    fileID BLOB NOT NULL, encodedVersion INTEGER NOT NULL, idx INTEGER NOT NULL,
                    length INTEGER NOT NULL, k INTEGER NOT NULL, m INTEGER NOT NULL
                );
                CREATE TABLE version_chunk (
                    version INTEGER NOT NULL REFERENCES version(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL,
                    chunk INTEGER NOT NULL REFERENCES chunk(id),
                    PRIMARY KEY (version, position)
                ) WITHOUT ROWID;
                CREATE INDEX version_chunk_chunk ON version_chunk(chunk);
                CREATE TABLE shard (
                    chunk INTEGER NOT NULL REFERENCES chunk(id) ON DELETE CASCADE,
                    idx INTEGER NOT NULL,
                    shardID BLOB NOT NULL,
                    host INTEGER NOT NULL REFERENCES host(id),
                    state TEXT NOT NULL DEFAULT 'stored' CHECK (state IN ('stored', 'missing', 'corrupt')),
                    PRIMARY KEY (chunk, idx)
                ) WITHOUT ROWID;
                CREATE INDEX shard_host ON shard(host);
                -- Shards no version needs any more, waiting for gc to delete them from their host.
                CREATE TABLE garbage (
                    shardID BLOB NOT NULL,
                    host INTEGER NOT NULL REFERENCES host(id),
                    queuedAt INTEGER NOT NULL,
                    PRIMARY KEY (shardID, host)
                ) WITHOUT ROWID;
                CREATE TABLE activity (
                    id INTEGER PRIMARY KEY,
                    time INTEGER NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL
                );
                CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
                """)
            let now = Int64(Date().timeIntervalSince1970 * 1e9)
            try db.execute(
                sql: "INSERT INTO node (id, kind, mode, uid, gid, atime, mtime, ctime, nlink) VALUES (1, 'dir', ?, ?, ?, ?, ?, ?, 2)",
                arguments: [0o040755, getuid(), getgid(), now, now, now])
        }
        migrator.registerMigration("v3-mount") { db in
            try db.execute(sql: """
                -- The highest version number ever handed out for a file, so numbers never repeat (a
                -- repeated number would let an old shard pass for a new one).
                ALTER TABLE node ADD COLUMN lastVersion INTEGER NOT NULL DEFAULT 0;
                UPDATE node SET lastVersion = IFNULL((SELECT MAX(number) FROM version v WHERE v.node = node.id), 0);
                -- Shards stored for a version not committed yet. A crash leaves them here; the next
                -- mount moves them to the garbage queue.
                -- Deleting a version checks who points at it: without this index, every node.
                CREATE INDEX node_current_version ON node(currentVersion);
                -- owner: 'mount', or 'upload:PID' for a `vishwa upload` (gc reclaims a dead one's).
                CREATE TABLE pending (
                    shardID BLOB NOT NULL,
                    host INTEGER NOT NULL REFERENCES host(id),
                    queuedAt INTEGER NOT NULL,
                    owner TEXT NOT NULL DEFAULT 'mount',
                    PRIMARY KEY (shardID, host)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v4-node-ids") { db in
            try db.execute(sql: """
                -- A node's id is the inode number the kernel knows it by, and the kernel may still
                -- hold one the CLI removed: an id must never name a second node. SQLite hands out
                -- the highest id + 1, so removing the newest node would give its id away again:
                -- the trigger keeps the highest id removed, and new nodes start above it
                -- (`Catalog.newNodeID`).
                CREATE TRIGGER node_ids_not_reused AFTER DELETE ON node
                WHEN OLD.id > IFNULL((SELECT MAX(id) FROM node), 0)
                BEGIN
                    INSERT INTO meta (key, value) VALUES ('removedNodeID', OLD.id)
                    ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value);
                END;
                """)
        }
        migrator.registerMigration("v5-partial-version-index") { db in
            try db.execute(sql: """
                -- Only versioned nodes in the index: folders, symlinks and files not yet written
                -- (every node as it is created) added a NULL to the middle of it, a page split
                -- now and then and one more page in every create's commit. Deleting a version
                -- still finds its node here: `currentVersion = ?` implies IS NOT NULL.
                DROP INDEX node_current_version;
                CREATE INDEX node_current_version ON node(currentVersion) WHERE currentVersion IS NOT NULL;
                """)
        }
        migrator.registerMigration("v6-seal-ids") { db in
            try db.execute(sql: """
                -- The 16-byte id of a chunk's encoding, bound into its shards' tags (shard format
                -- 3): a chunk sealed twice under one version (written, sealed, rewritten before
                -- close) gets two ids, so a host serving the first encoding's shard for the second
                -- serves an erasure, not a mixed chunk. NULL for chunks sealed before (formats 1, 2).
                ALTER TABLE chunk ADD COLUMN sealID BLOB;
                """)
        }
        migrator.registerMigration("v7-backup-status") { db in
            try db.execute(sql: """
                -- The shards of each stored catalog backup generation (backups are chunked and
                -- stored as shards, like files): when a generation falls out of the newest ones
                -- kept, its shards go to the garbage queue.
                CREATE TABLE backup_shard (
                    generation INTEGER NOT NULL,
                    shardID BLOB NOT NULL,
                    host INTEGER NOT NULL REFERENCES host(id),
                    PRIMARY KEY (generation, shardID, host)
                ) WITHOUT ROWID;
                -- The generations stored, with shards or without (a small catalog travels in the
                -- hosts' blobs): the newest of them are the ones hosts keep.
                CREATE TABLE backup_stored (generation INTEGER PRIMARY KEY);
                """)
        }
        migrator.registerMigration("v8-special-nodes") { db in
            try addSpecialNodes(db)
        }
        return migrator
    }

    /// FIFOs, sockets and device nodes are nodes with a type and (devices) a device number, no
    /// data: `cp -a` and `rsync -a` of a home folder copy them. The node table's CHECK lists the
    /// kinds it holds, and SQLite changes a CHECK only by rebuilding the table: the new one is
    /// made from the stored definition (with the columns later migrations added), filled,
    /// swapped in, and its indexes and triggers made again. GRDB runs a migration with foreign
    /// keys off and checks them all before it commits, so dropping the old table cascades nothing.
    static func addSpecialNodes(_ db: Database) throws {
        let oldCheck = "CHECK (kind IN ('dir', 'file', 'symlink'))"
        guard let definition = try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'node'"),
              definition.hasPrefix("CREATE TABLE node ("), definition.contains(oldCheck) else {
            throw CatalogError.conflict("the catalog's node table is not the one this migration expects")
        }
        let companions = try String.fetchAll(db, sql: """
            SELECT sql FROM sqlite_master WHERE tbl_name = 'node' AND type IN ('index', 'trigger') AND sql IS NOT NULL
            """)
        let widened = definition
            .replacingOccurrences(of: oldCheck, with: "CHECK (kind IN ('dir', 'file', 'symlink', 'fifo', 'socket', 'char', 'block'))")
            .replacingOccurrences(of: "CREATE TABLE node (", with: "CREATE TABLE node_new (")
        try db.execute(sql: widened)
        try db.execute(sql: "INSERT INTO node_new SELECT * FROM node")
        try db.execute(sql: "DROP TABLE node")
        try db.execute(sql: "ALTER TABLE node_new RENAME TO node")
        for statement in companions { try db.execute(sql: statement) }
        // A device node's number as the kernel gives it (dev_t); 0 for every other kind.
        try db.execute(sql: "ALTER TABLE node ADD COLUMN rdev INTEGER NOT NULL DEFAULT 0")
    }
}
