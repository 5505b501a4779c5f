import Foundation
import GRDB

/// File versions written through the mount: numbers reserved up front (shards are bound to them
/// before the commit), shards recorded as pending while stored, and the commit by node (a file
/// may be renamed while it is open).
extension Catalog {
    /// Hands out the next version number of a file; numbers never repeat, even after a truncate
    /// to zero or a failed write.
    public func reserveVersion(_ node: Int64) throws(CatalogError) -> UInt64 {
        try write { db in
            try db.run(sql: """
                UPDATE node SET lastVersion = MAX(lastVersion, (SELECT IFNULL(MAX(number), 0) FROM version WHERE node = ?)) + 1
                WHERE id = ? AND kind = 'file'
                """, arguments: [node, node])
            guard db.changesCount == 1,
                  let number = try Int64.fetchOne(cached: db, sql: "SELECT lastVersion FROM node WHERE id = ?", arguments: [node])
            else { throw CatalogError.namespace(.notFound) }
            return UInt64(number)
        }
    }

    /// Records shards stored for a version not committed yet, before they are sent. `owner` is
    /// "mount", or "upload:PID" for a command-line upload.
    public func addPending(_ shards: [(shardID: [UInt8], host: Int64)], owner: String = "mount") throws(CatalogError) {
        try write { db in
            let now = Self.now()
            for shard in shards {
                try db.run(sql: "INSERT OR IGNORE INTO pending (shardID, host, queuedAt, owner) VALUES (?, ?, ?, ?)",
                           arguments: [Data(shard.shardID), shard.host, now, owner])
            }
        }
    }

    /// Moves pending shards to the garbage queue: those given (a sealed chunk was rewritten before
    /// its commit), or all of `owner`'s (at mount start, or when an upload fails: whoever stored
    /// them is gone).
    public func abandonPending(_ shards: [(shardID: [UInt8], host: Int64)]? = nil, owner: String = "mount") throws(CatalogError) {
        try write { db in
            let now = Self.now()
            if let shards {
                for shard in shards {
                    try db.run(sql: "DELETE FROM pending WHERE shardID = ? AND host = ?", arguments: [Data(shard.shardID), shard.host])
                    try db.run(sql: "INSERT OR IGNORE INTO garbage (shardID, host, queuedAt) VALUES (?, ?, ?)",
                               arguments: [Data(shard.shardID), shard.host, now])
                }
            } else {
                try Self.abandon(owner: owner, now: now, in: db)
            }
        }
    }

    /// Hands the pending shards of uploads whose process is gone (killed mid-upload) to the
    /// garbage queue; `isAlive` says whether a pid still runs. Returns how many shards.
    @discardableResult
    public func abandonDeadUploads(isAlive: (Int32) -> Bool) throws(CatalogError) -> Int {
        // Asked first, outside a write: most passes (the mount's gc loop runs one every few
        // minutes) find nothing, and a write transaction counts as a change, which the mount
        // then backs up.
        let owners = try read { db in
            try String.fetchAll(cached: db, sql: "SELECT DISTINCT owner FROM pending WHERE owner LIKE 'upload:%'")
        }
        let dead = owners.filter { owner in Int32(owner.dropFirst("upload:".count)).map { !isAlive($0) } ?? false }
        guard !dead.isEmpty else { return 0 }
        return try write { db in
            var abandoned = 0
            for owner in dead {
                abandoned += try Int.fetchOne(cached: db, sql: "SELECT COUNT(*) FROM pending WHERE owner = ?", arguments: [owner]) ?? 0
                try Self.abandon(owner: owner, now: Self.now(), in: db)
            }
            return abandoned
        }
    }

    static func abandon(owner: String, now: Int64, in db: Database) throws {
        try db.run(sql: "INSERT OR IGNORE INTO garbage (shardID, host, queuedAt) SELECT shardID, host, ? FROM pending WHERE owner = ?",
                   arguments: [now, owner])
        try db.run(sql: "DELETE FROM pending WHERE owner = ?", arguments: [owner])
    }

    /// The committed chunks' shards are no longer pending.
    static func clearPending(_ chunks: [ChunkRecord], in db: Database) throws {
        for chunk in chunks where chunk.id == nil {
            for shard in chunk.shards {
                try db.run(sql: "DELETE FROM pending WHERE shardID = ? AND host = ?", arguments: [Data(shard.shardID), shard.hostID])
            }
        }
    }

    /// Commits `version` (numbered `number`, from `reserveVersion`) as the current version of file
    /// `node` in one transaction: its new chunks stop being pending, the previous version goes,
    /// and chunks no version uses any more send their shards to the garbage queue.
    @discardableResult
    public func commitVersion(node: Int64, number: UInt64, version: NewVersion, mtime: Int64) throws(CatalogError)
        -> NodeAttributes
    {
        try write { db in
            guard let kind = try String.fetchOne(cached: db, sql: "SELECT kind FROM node WHERE id = ?", arguments: [node]) else {
                throw CatalogError.namespace(.notFound)
            }
            guard kind == NodeKind.file.rawValue else { throw CatalogError.namespace(.isDirectory) }
            let now = Self.now()
            try db.run(sql: """
                INSERT INTO version (node, number, size, chunkSize, k, m, wrappedKey, createdAt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [node, Int64(number), version.size, version.chunkSize, version.k, version.m,
                                 Data(version.wrappedKey), now])
            let versionID = db.lastInsertedRowID
            try Self.insertChunks(version.chunks, version: versionID, in: db)
            try Self.clearPending(version.chunks, in: db)
            let previous = try Int64.fetchOne(cached: db, sql: "SELECT currentVersion FROM node WHERE id = ?", arguments: [node])
            try db.run(sql: """
                UPDATE node SET currentVersion = ?, size = ?, mtime = ?, ctime = ?, degraded = ?, lastVersion = MAX(lastVersion, ?)
                WHERE id = ?
                """, arguments: [versionID, version.size, mtime, now, version.degraded ? 1 : 0, Int64(number), node])
            if let previous {
                let chunks = try Self.chunks(ofVersion: previous, in: db)
                try db.run(sql: "DELETE FROM version WHERE id = ?", arguments: [previous])
                try Self.collectGarbage(chunks, in: db)
            }
            return try Self.attributes(of: node, in: db)
        }
    }
}
