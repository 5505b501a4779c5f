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

    /// Records shards stored for a version not committed yet, before they are sent.
    public func addPending(_ shards: [(shardID: [UInt8], host: Int64)]) throws(CatalogError) {
        try write { db in
            let now = Self.now()
            for shard in shards {
                try db.run(sql: "INSERT OR IGNORE INTO pending (shardID, host, queuedAt) VALUES (?, ?, ?)",
                               arguments: [Data(shard.shardID), shard.host, now])
            }
        }
    }

    /// Moves pending shards to the garbage queue: those given (a sealed chunk was rewritten before
    /// its commit), or all of them (at mount start: whoever stored them is gone).
    public func abandonPending(_ shards: [(shardID: [UInt8], host: Int64)]? = nil) throws(CatalogError) {
        try write { db in
            let now = Self.now()
            if let shards {
                for shard in shards {
                    try db.run(sql: "DELETE FROM pending WHERE shardID = ? AND host = ?", arguments: [Data(shard.shardID), shard.host])
                    try db.run(sql: "INSERT OR IGNORE INTO garbage (shardID, host, queuedAt) VALUES (?, ?, ?)",
                                   arguments: [Data(shard.shardID), shard.host, now])
                }
            } else {
                try db.run(sql: "INSERT OR IGNORE INTO garbage (shardID, host, queuedAt) SELECT shardID, host, ? FROM pending",
                               arguments: [now])
                try db.run(sql: "DELETE FROM pending")
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
            for chunk in version.chunks where chunk.id == nil {
                for shard in chunk.shards {
                    try db.run(sql: "DELETE FROM pending WHERE shardID = ? AND host = ?",
                                   arguments: [Data(shard.shardID), shard.hostID])
                }
            }
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
