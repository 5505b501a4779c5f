import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#endif

/// Where one shard of a chunk lives.
public struct ShardRecord: Sendable, Equatable {
    public var index: Int
    public var shardID: [UInt8]
    public var hostID: Int64
    public var state: String

    public init(index: Int, shardID: [UInt8], hostID: Int64, state: String = "stored") {
        self.index = index
        self.shardID = shardID
        self.hostID = hostID
        self.state = state
    }
}

/// A coded chunk at a position of a version, with the values its shards' tags bind.
public struct ChunkRecord: Sendable, Equatable {
    public var id: Int64?
    public var position: Int
    public var fileID: [UInt8]
    public var encodedVersion: UInt64
    public var index: Int
    public var length: Int
    public var k: Int
    public var m: Int
    public var shards: [ShardRecord]
    /// The 16-byte id of this encoding, bound into its shards' tags (shard format 3); nil for a
    /// chunk sealed before seal ids existed (formats 1 and 2).
    public var sealID: [UInt8]?

    public init(id: Int64? = nil, position: Int, fileID: [UInt8], encodedVersion: UInt64, index: Int, length: Int,
                k: Int, m: Int, shards: [ShardRecord], sealID: [UInt8]? = nil) {
        self.id = id
        self.position = position
        self.fileID = fileID
        self.encodedVersion = encodedVersion
        self.index = index
        self.length = length
        self.k = k
        self.m = m
        self.shards = shards
        self.sealID = sealID
    }
}

/// A version about to be committed.
public struct NewVersion: Sendable {
    public var size: Int
    public var chunkSize: Int
    public var k: Int
    public var m: Int
    public var wrappedKey: [UInt8]
    public var chunks: [ChunkRecord]
    public var degraded: Bool

    public init(size: Int, chunkSize: Int, k: Int, m: Int, wrappedKey: [UInt8], chunks: [ChunkRecord], degraded: Bool) {
        self.size = size
        self.chunkSize = chunkSize
        self.k = k
        self.m = m
        self.wrappedKey = wrappedKey
        self.chunks = chunks
        self.degraded = degraded
    }
}

/// A file and its current version, with everything needed to read it back.
public struct FileRecord: Sendable {
    public var node: Int64
    public var path: String
    public var fileID: [UInt8]
    public var size: Int
    public var mtime: Int64
    public var versionNumber: UInt64
    public var chunkSize: Int
    public var k: Int
    public var m: Int
    public var wrappedKey: [UInt8]
    public var degraded: Bool
    public var tags: [String]
    public var chunks: [ChunkRecord]
}

extension FileRecord {
    /// A file just created, with no version yet (what the mount opens without a catalog read).
    public static func empty(node: Int64, fileID: [UInt8], mtime: Int64) -> FileRecord {
        FileRecord(node: node, path: "node \(node)", fileID: fileID, size: 0, mtime: mtime, versionNumber: 0, chunkSize: 0,
                   k: 0, m: 0, wrappedKey: [], degraded: false, tags: [], chunks: [])
    }
}

/// One line of `vishwa list`.
public struct FileSummary: Sendable, Codable {
    public var node: Int64
    public var path: String
    public var size: Int
    public var mtime: Int64
    public var version: UInt64
    public var degraded: Bool
    public var tags: [String]
}

/// What an upload needs to know before it encodes: the file's id and the version number its
/// shards will be bound to.
public struct VersionTicket: Sendable {
    public let parent: Int64
    public let name: String
    public let existingNode: Int64?
    public let fileID: [UInt8]
    public let number: UInt64
}

extension Catalog {
    public static let rootNode: Int64 = 1

    /// Now, in nanoseconds since the epoch: the unit of every time in the catalog.
    public static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1e9) }

    /// Splits "/a/b/c" or "a/b/c" into components; empty components and "." are dropped.
    /// Throws on ".." and on names longer than 255 bytes.
    public static func components(of path: String) throws(CatalogError) -> [String] {
        let parts = path.split(separator: "/").map(String.init).filter { $0 != "." }
        for part in parts {
            if part == ".." { throw .conflict("'..' is not allowed in catalog paths: \(path)") }
            if part.utf8.count > 255 { throw .conflict("name longer than 255 bytes in \(path)") }
        }
        return parts
    }

    /// The node at `path`, or nil.
    public func node(atPath path: String) throws(CatalogError) -> Int64? {
        let parts = try Self.components(of: path)
        return try read { db in try Self.lookup(parts, in: db) }
    }

    static func lookup(_ parts: [String], in db: Database) throws -> Int64? {
        var current = rootNode
        for part in parts {
            guard let next = try Int64.fetchOne(db, sql: "SELECT node FROM entry WHERE parent = ? AND name = ?",
                                                arguments: [current, part]) else { return nil }
            current = next
        }
        return current
    }

    /// The kind of a node (a `NodeKind` raw value: "dir", "file", "symlink", "fifo", ...).
    public func kind(of node: Int64) throws(CatalogError) -> String? {
        try read { db in try String.fetchOne(db, sql: "SELECT kind FROM node WHERE id = ?", arguments: [node]) }
    }

    /// Creates the directories of `path` that are missing; returns the last one's node.
    /// Throws if a component exists and is not a directory.
    public func ensureDirectory(_ path: String, mode: Int = 0o040755) throws(CatalogError) -> Int64 {
        let parts = try Self.components(of: path)
        return try write { db in try Self.ensureDirectory(parts, mode: mode, in: db) }
    }

    static func ensureDirectory(_ parts: [String], mode: Int, in db: Database) throws -> Int64 {
        var current = rootNode
        for part in parts {
            if let next = try Row.fetchOne(db, sql: """
                SELECT e.node, n.kind FROM entry e JOIN node n ON n.id = e.node WHERE e.parent = ? AND e.name = ?
                """, arguments: [current, part]) {
                guard (next["kind"] as String) == "dir" else { throw CatalogError.conflict("'\(part)' exists and is not a folder") }
                current = next["node"]
                continue
            }
            let now = Self.now()
            try db.execute(sql: """
                INSERT INTO node (id, kind, mode, uid, gid, atime, mtime, ctime, nlink)
                VALUES (\(Self.newNodeID), 'dir', ?, ?, ?, ?, ?, ?, 2)
                """, arguments: [mode, getuid(), getgid(), now, now, now])
            let id = db.lastInsertedRowID
            try db.execute(sql: "INSERT INTO entry (parent, name, node) VALUES (?, ?, ?)", arguments: [current, part, id])
            try db.execute(sql: "UPDATE node SET nlink = nlink + 1, mtime = ?, ctime = ? WHERE id = ?", arguments: [now, now, current])
            current = id
        }
        return current
    }

    /// Reserves what an upload to `name` in `parent` needs: the existing file's id and the next
    /// version number, or a fresh random id and version 1.
    public func ticket(parent: Int64, name: String) throws(CatalogError) -> VersionTicket {
        try read { db in
            if let row = try Row.fetchOne(db, sql: """
                SELECT n.id, n.kind, n.fileID, MAX(n.lastVersion, (SELECT IFNULL(MAX(number), 0) FROM version WHERE node = n.id)) AS last
                FROM entry e JOIN node n ON n.id = e.node WHERE e.parent = ? AND e.name = ?
                """, arguments: [parent, name]) {
                guard (row["kind"] as String) == "file" else {
                    throw CatalogError.conflict("'\(name)' exists and is not a file")
                }
                let fileID = [UInt8]((row["fileID"] as Data?) ?? Data())
                return VersionTicket(parent: parent, name: name, existingNode: row["id"], fileID: fileID,
                                     number: UInt64(row["last"] as Int64) + 1)
            }
            return VersionTicket(parent: parent, name: name, existingNode: nil, fileID: Self.newFileID(), number: 1)
        }
    }

    /// 16 random bytes for a new file's id: two draws of the system generator (a byte at a time
    /// was a getrandom system call per byte, on every file created).
    static func newFileID() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return withUnsafeBytes(of: (generator.next() as UInt64, generator.next() as UInt64)) { Array($0) }
    }

    /// Commits a new version in one transaction: creates the file if needed, records its chunks
    /// and shards, makes it current, and queues the shards of chunks no version uses any more.
    /// Before it, readers see the old version whole; after it, the new one.
    @discardableResult
    public func commit(_ ticket: VersionTicket, version: NewVersion, mode: Int = 0o100644, mtime: Int64? = nil,
                       tags: [String]? = nil) throws(CatalogError) -> Int64 {
        try write { db in
            let now = Self.now()
            let node: Int64
            if let existing = try Int64.fetchOne(db, sql: "SELECT node FROM entry WHERE parent = ? AND name = ?",
                                                 arguments: [ticket.parent, ticket.name]) {
                guard existing == ticket.existingNode else {
                    throw CatalogError.conflict("'\(ticket.name)' was replaced while uploading; try again")
                }
                node = existing
            } else {
                guard ticket.existingNode == nil else {
                    throw CatalogError.conflict("'\(ticket.name)' was removed while uploading; try again")
                }
                try db.execute(sql: """
                    INSERT INTO node (id, kind, mode, uid, gid, size, atime, mtime, ctime, nlink, fileID)
                    VALUES (\(Self.newNodeID), 'file', ?, ?, ?, 0, ?, ?, ?, 1, ?)
                    """, arguments: [mode, getuid(), getgid(), now, mtime ?? now, now, Data(ticket.fileID)])
                node = db.lastInsertedRowID
                try db.execute(sql: "INSERT INTO entry (parent, name, node) VALUES (?, ?, ?)",
                               arguments: [ticket.parent, ticket.name, node])
                try db.execute(sql: "UPDATE node SET mtime = ?, ctime = ? WHERE id = ?", arguments: [now, now, ticket.parent])
            }
            try db.execute(sql: """
                INSERT INTO version (node, number, size, chunkSize, k, m, wrappedKey, createdAt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [node, Int64(ticket.number), version.size, version.chunkSize, version.k, version.m,
                                 Data(version.wrappedKey), now])
            let versionID = db.lastInsertedRowID
            try Self.insertChunks(version.chunks, version: versionID, in: db)
            try Self.clearPending(version.chunks, in: db)
            let previous = try Int64.fetchOne(db, sql: "SELECT currentVersion FROM node WHERE id = ?", arguments: [node])
            try db.execute(sql: """
                UPDATE node SET currentVersion = ?, size = ?, mtime = ?, ctime = ?, degraded = ?, lastVersion = MAX(lastVersion, ?)
                WHERE id = ?
                """, arguments: [versionID, version.size, mtime ?? now, now, version.degraded ? 1 : 0, Int64(ticket.number), node])
            if let previous { try db.execute(sql: "DELETE FROM version WHERE id = ?", arguments: [previous]) }
            if let tags {
                try db.execute(sql: "DELETE FROM tag WHERE node = ?", arguments: [node])
                for tag in Set(tags) { try db.execute(sql: "INSERT INTO tag (node, tag) VALUES (?, ?)", arguments: [node, tag]) }
            }
            try Self.collectGarbage(in: db)
            return node
        }
    }

    static func insertChunks(_ chunks: [ChunkRecord], version: Int64, in db: Database) throws {
        for chunk in chunks {
            var chunkID = chunk.id
            if chunkID == nil {
                try db.run(sql: """
                    INSERT INTO chunk (fileID, encodedVersion, idx, length, k, m, sealID) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [Data(chunk.fileID), Int64(chunk.encodedVersion), chunk.index, chunk.length, chunk.k, chunk.m,
                                    chunk.sealID.map { Data($0) }])
                chunkID = db.lastInsertedRowID
                for shard in chunk.shards {
                    try db.run(sql: "INSERT INTO shard (chunk, idx, shardID, host, state) VALUES (?, ?, ?, ?, ?)",
                                   arguments: [chunkID, shard.index, Data(shard.shardID), shard.hostID, shard.state])
                }
            }
            try db.run(sql: "INSERT INTO version_chunk (version, position, chunk) VALUES (?, ?, ?)",
                           arguments: [version, chunk.position, chunkID])
        }
    }

    /// The chunks of every version of `node` (what may become garbage when it goes).
    static func chunks(ofNode node: Int64, in db: Database) throws -> [Int64] {
        try Int64.fetchAll(cached: db, sql: """
            SELECT DISTINCT vc.chunk FROM version v JOIN version_chunk vc ON vc.version = v.id WHERE v.node = ?
            """, arguments: [node])
    }

    /// The chunks of one version.
    static func chunks(ofVersion version: Int64, in db: Database) throws -> [Int64] {
        try Int64.fetchAll(cached: db, sql: "SELECT chunk FROM version_chunk WHERE version = ?", arguments: [version])
    }

    /// Like `collectGarbage(in:)`, for just these chunks: what a change that dropped versions
    /// uses, so its cost follows the file, not the whole catalog.
    /// Returns how many shards it queued.
    @discardableResult
    static func collectGarbage(_ chunks: [Int64], in db: Database) throws -> Int {
        let now = now()
        var queued = 0
        for chunk in chunks {
            guard try !(Bool.fetchOne(cached: db, sql: "SELECT EXISTS (SELECT 1 FROM version_chunk WHERE chunk = ?)",
                                      arguments: [chunk]) ?? true) else { continue }
            try db.run(sql: "INSERT OR IGNORE INTO garbage (shardID, host, queuedAt) SELECT shardID, host, ? FROM shard WHERE chunk = ?",
                       arguments: [now, chunk])
            queued += db.changesCount
            try db.run(sql: "DELETE FROM chunk WHERE id = ?", arguments: [chunk])
        }
        return queued
    }

    /// Deletes `node` (never the root) with its versions, and queues the shards of the chunks no
    /// other version shares: only this node's chunks are checked, not the whole catalog's.
    /// `hasVersions: false` (known to the caller) skips looking for chunks. Returns the shards queued.
    @discardableResult
    static func deleteNode(_ node: Int64, hasVersions: Bool? = nil, in db: Database) throws -> Int {
        let chunks = hasVersions == false ? [] : try chunks(ofNode: node, in: db)
        try db.run(sql: "DELETE FROM node WHERE id = ? AND id != ?", arguments: [node, rootNode])
        return try collectGarbage(chunks, in: db)
    }

    /// Moves the shards of chunks that no version references to the garbage queue, then drops those chunks.
    static func collectGarbage(in db: Database) throws {
        try db.run(sql: """
            INSERT OR IGNORE INTO garbage (shardID, host, queuedAt)
            SELECT s.shardID, s.host, ? FROM shard s
            WHERE s.chunk IN (SELECT c.id FROM chunk c WHERE NOT EXISTS (SELECT 1 FROM version_chunk vc WHERE vc.chunk = c.id))
            """, arguments: [now()])
        try db.run(sql: "DELETE FROM chunk WHERE NOT EXISTS (SELECT 1 FROM version_chunk vc WHERE vc.chunk = chunk.id)")
    }

    /// The current version of the file at `node`, with its chunks and shards.
    public func file(node: Int64) throws(CatalogError) -> FileRecord {
        try read { db in try Self.file(node: node, in: db) }
    }

    static func file(node: Int64, in db: Database) throws -> FileRecord {
        guard let row = try Row.fetchOne(cached: db, sql: """
            SELECT n.id, n.kind, n.fileID, n.mtime, n.degraded, v.id AS vid, v.number, v.size, v.chunkSize, v.k, v.m, v.wrappedKey
            FROM node n LEFT JOIN version v ON v.id = n.currentVersion WHERE n.id = ?
            """, arguments: [node]) else { throw CatalogError.notFound("file \(node)") }
        guard (row["kind"] as String) == "file" else { throw CatalogError.conflict("node \(node) is not a file") }
        guard let versionID = row["vid"] as Int64? else {
            return FileRecord(node: node, path: try path(of: node, in: db), fileID: [UInt8]((row["fileID"] as Data?) ?? Data()),
                              size: 0, mtime: row["mtime"], versionNumber: 0, chunkSize: 0, k: 0, m: 0, wrappedKey: [],
                              degraded: false, tags: try tags(of: node, in: db), chunks: [])
        }
        let chunkRows = try Row.fetchAll(cached: db, sql: """
            SELECT vc.position, c.id, c.fileID, c.encodedVersion, c.idx, c.length, c.k, c.m, c.sealID
            FROM version_chunk vc JOIN chunk c ON c.id = vc.chunk WHERE vc.version = ? ORDER BY vc.position
            """, arguments: [versionID])
        var chunks: [ChunkRecord] = []
        for c in chunkRows {
            let shards = try Row.fetchAll(cached: db, sql: "SELECT idx, shardID, host, state FROM shard WHERE chunk = ? ORDER BY idx",
                                          arguments: [c["id"] as Int64]).map { s in
                ShardRecord(index: s["idx"], shardID: [UInt8](s["shardID"] as Data), hostID: s["host"], state: s["state"])
            }
            chunks.append(ChunkRecord(id: c["id"], position: c["position"], fileID: [UInt8](c["fileID"] as Data),
                                      encodedVersion: UInt64(c["encodedVersion"] as Int64), index: c["idx"],
                                      length: c["length"], k: c["k"], m: c["m"], shards: shards,
                                      sealID: (c["sealID"] as Data?).map { [UInt8]($0) }))
        }
        return FileRecord(node: node, path: try path(of: node, in: db), fileID: [UInt8]((row["fileID"] as Data?) ?? Data()),
                          size: row["size"], mtime: row["mtime"], versionNumber: UInt64(row["number"] as Int64),
                          chunkSize: row["chunkSize"], k: row["k"], m: row["m"], wrappedKey: [UInt8](row["wrappedKey"] as Data),
                          degraded: (row["degraded"] as Int) != 0, tags: try tags(of: node, in: db), chunks: chunks)
    }

    static func tags(of node: Int64, in db: Database) throws -> [String] {
        try String.fetchAll(cached: db, sql: "SELECT tag FROM tag WHERE node = ? ORDER BY tag", arguments: [node])
    }

    /// The path of a node from the root ("/a/b"); a node with several names (hard links) gives one.
    public func path(of node: Int64) throws(CatalogError) -> String {
        try read { db in try Self.path(of: node, in: db) }
    }

    static func path(of node: Int64, in db: Database) throws -> String {
        var parts: [String] = []
        var current = node
        var guardCount = 0
        while current != rootNode, guardCount < 4096 {
            guard let row = try Row.fetchOne(cached: db, sql: "SELECT parent, name FROM entry WHERE node = ? LIMIT 1",
                                             arguments: [current]) else { break }
            parts.append(row["name"])
            current = row["parent"]
            guardCount += 1
        }
        return "/" + parts.reversed().joined(separator: "/")
    }

    /// Files under `folder` (all when nil, recursively), optionally only those with `tag`, by path.
    public func files(under folder: Int64? = nil, tag: String? = nil) throws(CatalogError) -> [FileSummary] {
        try read { db in
            var rows = try Row.fetchAll(db, sql: """
                SELECT n.id, n.size, n.mtime, n.degraded, IFNULL(v.number, 0) AS number FROM node n
                LEFT JOIN version v ON v.id = n.currentVersion
                WHERE n.kind = 'file' \(tag == nil ? "" : "AND EXISTS (SELECT 1 FROM tag t WHERE t.node = n.id AND t.tag = ?)")
                """, arguments: tag.map { [$0] } ?? [])
            if let folder {
                let inside = try Set(Int64.fetchAll(db, sql: """
                    WITH RECURSIVE sub(id) AS (SELECT ? UNION SELECT e.node FROM entry e JOIN sub ON e.parent = sub.id)
                    SELECT id FROM sub
                    """, arguments: [folder]))
                rows = rows.filter { inside.contains($0["id"] as Int64) }
            }
            return try rows.map { row in
                let node: Int64 = row["id"]
                return FileSummary(node: node, path: try Self.path(of: node, in: db), size: row["size"], mtime: row["mtime"],
                                   version: UInt64(row["number"] as Int64), degraded: (row["degraded"] as Int) != 0,
                                   tags: try Self.tags(of: node, in: db))
            }.sorted { $0.path < $1.path }
        }
    }

    /// Removes a file with every name it has (the CLI's `rm`): its versions go, and the shards of
    /// chunks no other version shares join the garbage queue. Returns how many shards were queued.
    @discardableResult
    public func removeFile(node: Int64) throws(CatalogError) -> Int {
        try write { db in
            guard let kind = try String.fetchOne(db, sql: "SELECT kind FROM node WHERE id = ?", arguments: [node]) else {
                throw CatalogError.notFound("file \(node)")
            }
            guard kind != NodeKind.directory.rawValue else { throw CatalogError.conflict("node \(node) is a folder") }
            let now = Self.now()
            try db.execute(sql: "UPDATE node SET mtime = ?, ctime = ? WHERE id IN (SELECT parent FROM entry WHERE node = ?)",
                           arguments: [now, now, node])
            return try Self.deleteNode(node, in: db)
        }
    }

    /// Resolves what a user typed: a node id (digits), a file id (32 hex digits), or a path.
    public func resolve(_ reference: String) throws(CatalogError) -> Int64? {
        if let id = Int64(reference), reference.first != "0" || reference == "0" {
            return try read { db in try Int64.fetchOne(db, sql: "SELECT id FROM node WHERE id = ? AND kind = 'file'", arguments: [id]) }
        }
        if reference.count == 32, reference.allSatisfy(\.isHexDigit) {
            let bytes = stride(from: 0, to: 32, by: 2).map {
                UInt8(reference[reference.index(reference.startIndex, offsetBy: $0)...].prefix(2), radix: 16)!
            }
            if let node = try read({ db in
                try Int64.fetchOne(db, sql: "SELECT id FROM node WHERE fileID = ?", arguments: [Data(bytes)])
            }) { return node }
        }
        return try node(atPath: reference)
    }

    /// Marks shards' state after a check (e.g. 'missing', 'corrupt', 'stored').
    public func setShardState(chunk: Int64, index: Int, state: String) throws(CatalogError) {
        try write { db in
            try db.execute(sql: "UPDATE shard SET state = ? WHERE chunk = ? AND idx = ?", arguments: [state, chunk, index])
        }
    }
}

extension Catalog {
    /// Points shard slots of a chunk at new copies (after a repair) in one transaction; the copies
    /// they replace go to the garbage queue. Clears the file's degraded flag when every chunk of
    /// its current version is whole again.
    public func replaceShards(chunk: Int64, with shards: [ShardRecord]) throws(CatalogError) {
        try write { db in
            let now = Self.now()
            for shard in shards {
                if let old = try Row.fetchOne(db, sql: "SELECT shardID, host FROM shard WHERE chunk = ? AND idx = ?",
                                              arguments: [chunk, shard.index]) {
                    try db.execute(sql: "INSERT OR IGNORE INTO garbage (shardID, host, queuedAt) VALUES (?, ?, ?)",
                                   arguments: [old["shardID"] as Data, old["host"] as Int64, now])
                }
                try db.execute(sql: """
                    INSERT INTO shard (chunk, idx, shardID, host, state) VALUES (?, ?, ?, ?, 'stored')
                    ON CONFLICT(chunk, idx) DO UPDATE SET shardID = excluded.shardID, host = excluded.host, state = 'stored'
                    """, arguments: [chunk, shard.index, Data(shard.shardID), shard.hostID])
            }
            try db.execute(sql: """
                UPDATE node SET degraded = 0 WHERE degraded = 1 AND currentVersion IS NOT NULL AND NOT EXISTS (
                    SELECT 1 FROM version_chunk vc JOIN chunk c ON c.id = vc.chunk
                    WHERE vc.version = node.currentVersion AND (SELECT COUNT(*) FROM shard s WHERE s.chunk = c.id) < c.k + c.m)
                """)
        }
    }
}
