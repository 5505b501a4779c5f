import Foundation
import GRDB

/// One event of the activity log.
public struct ActivityRecord: Sendable, Codable {
    public var time: Int64
    public var kind: String
    public var message: String
}

extension Catalog {
    /// How many events the log keeps (the seed kept the last 1000).
    public static let activityLimit = 1000

    /// Appends an event and drops the oldest beyond the limit, in one transaction.
    public func log(_ kind: String, _ message: String) throws(CatalogError) {
        try write { db in
            try db.execute(sql: "INSERT INTO activity (time, kind, message) VALUES (?, ?, ?)",
                           arguments: [Self.now(), kind, message])
            try db.execute(sql: "DELETE FROM activity WHERE id <= (SELECT MAX(id) FROM activity) - ?",
                           arguments: [Self.activityLimit])
        }
    }

    /// The newest `limit` events, oldest first.
    public func activity(limit: Int = 100) throws(CatalogError) -> [ActivityRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT time, kind, message FROM activity ORDER BY id DESC LIMIT ?", arguments: [limit])
                .reversed().map { ActivityRecord(time: $0["time"], kind: $0["kind"], message: $0["message"]) }
        }
    }

    /// A value of the small key/value table (backup generation and the like).
    public func meta(_ key: String) throws(CatalogError) -> Int64? {
        try read { db in try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]) }
    }

    public func setMeta(_ key: String, _ value: Int64) throws(CatalogError) {
        try write { db in try Self.setMeta(key, value, in: db) }
    }

    /// Sets `key`; `onlyRaising` keeps a higher value already there.
    static func setMeta(_ key: String, _ value: Int64, onlyRaising: Bool = false, in db: Database) throws {
        try db.execute(sql: """
            INSERT INTO meta (key, value) VALUES (?, ?)
            ON CONFLICT(key) DO UPDATE SET value = \(onlyRaising ? "MAX(value, excluded.value)" : "excluded.value")
            """, arguments: [key, value])
    }

    /// The next catalog backup generation, handed out once (a backup by the CLI and one by the
    /// mount at the same moment get different numbers): above the last one stored and the last
    /// one handed out.
    public func reserveBackupGeneration() throws(CatalogError) -> UInt64 {
        try write(counted: false) { db in
            let last = try Int64.fetchOne(db, sql: """
                SELECT MAX(IFNULL((SELECT value FROM meta WHERE key = 'backupGeneration'), 0),
                           IFNULL((SELECT value FROM meta WHERE key = 'backupReserved'), 0))
                """) ?? 0
            try Self.setMeta("backupReserved", last + 1, in: db)
            return UInt64(last + 1)
        }
    }

    /// Records that backup `generation` is stored on the hosts (what `vishwa status` shows), with
    /// the shards it consists of; clears a failure recorded before. None of the backup's
    /// bookkeeping counts as a change: a change would call for the next backup.
    public func recordBackup(_ generation: UInt64, at time: Int64, shards: [GarbageShard] = []) throws(CatalogError) {
        try write(counted: false) { db in
            try Self.setMeta("backupGeneration", Int64(generation), onlyRaising: true, in: db)
            try Self.setMeta("backupTime", time, onlyRaising: true, in: db)
            try db.execute(sql: "DELETE FROM meta WHERE key IN ('backupError', 'backupErrorTime')")
            try db.execute(sql: "INSERT OR IGNORE INTO backup_stored (generation) VALUES (?)", arguments: [Int64(bitPattern: generation)])
            for shard in shards {
                try db.execute(sql: "INSERT OR IGNORE INTO backup_shard (generation, shardID, host) VALUES (?, ?, ?)",
                               arguments: [Int64(bitPattern: generation), Data(shard.shardID), shard.hostID])
            }
        }
    }

    /// Queues for gc the shards of every backup generation older than the newest `kept` stored
    /// (hosts keep as many backup blobs: an older blob is gone, and its shards are of no use).
    public func retireBackupShards(keeping kept: Int) throws(CatalogError) {
        try write(counted: false) { db in
            let old = "generation NOT IN (SELECT generation FROM backup_stored ORDER BY generation DESC LIMIT ?)"
            try db.execute(sql: """
                INSERT OR IGNORE INTO garbage (shardID, host, queuedAt) SELECT shardID, host, ? FROM backup_shard WHERE \(old)
                """, arguments: [Self.now(), kept])
            try db.execute(sql: "DELETE FROM backup_shard WHERE \(old)", arguments: [kept])
            try db.execute(sql: "DELETE FROM backup_stored WHERE \(old)", arguments: [kept])
        }
    }

    /// Queues shards for gc at once (those of a backup that was not completed).
    public func queueGarbage(_ shards: [GarbageShard]) throws(CatalogError) {
        try write(counted: false) { db in
            for shard in shards {
                try db.execute(sql: "INSERT OR IGNORE INTO garbage (shardID, host, queuedAt) VALUES (?, ?, ?)",
                               arguments: [Data(shard.shardID), shard.hostID, Self.now()])
            }
        }
    }

    /// Records why the last catalog backup failed (what `vishwa status` and the mount show) until
    /// one succeeds.
    public func recordBackupFailure(_ reason: String, at time: Int64) throws(CatalogError) {
        try write(counted: false) { db in
            try db.execute(sql: """
                INSERT INTO meta (key, value) VALUES ('backupError', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value
                """, arguments: [String(reason.prefix(1000))])
            try Self.setMeta("backupErrorTime", time, in: db)
        }
    }

    /// The last backup failure not followed by a success: why, and when (Unix seconds).
    public func backupFailure() throws(CatalogError) -> (reason: String, time: Int64)? {
        try read { db in
            guard let reason = try String.fetchOne(db, sql: "SELECT CAST(value AS TEXT) FROM meta WHERE key = 'backupError'"),
                  let time = try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'backupErrorTime'") else { return nil }
            return (reason, time)
        }
    }

    /// Problems found by checking the catalog against its own rules; empty when consistent.
    public func consistencyProblems() throws(CatalogError) -> [String] {
        try read { db in
            var problems: [String] = []
            let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check")
            if integrity != ["ok"] { problems += integrity.map { "sqlite: \($0)" } }
            let foreign = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check")
            problems += foreign.map { "dangling reference in \($0[0] as String? ?? "?") row \($0[1] as Int64? ?? 0)" }
            let orphans = try Int64.fetchAll(db, sql: """
                SELECT id FROM node WHERE id != 1 AND NOT EXISTS (SELECT 1 FROM entry WHERE entry.node = node.id)
                """)
            problems += orphans.map { "node \($0) has no name in any folder" }
            let unversioned = try Int64.fetchAll(db, sql: "SELECT id FROM node WHERE kind = 'file' AND currentVersion IS NULL AND size > 0")
            problems += unversioned.map { "file \($0) has a size but no version" }
            let sizes = try Row.fetchAll(db, sql: """
                SELECT n.id, n.size, v.size AS vsize, (SELECT IFNULL(SUM(c.length), 0) FROM version_chunk vc JOIN chunk c ON c.id = vc.chunk
                WHERE vc.version = v.id) AS total FROM node n JOIN version v ON v.id = n.currentVersion
                """)
            for row in sizes where (row["size"] as Int) != (row["vsize"] as Int) || (row["vsize"] as Int) != (row["total"] as Int) {
                problems.append("file \(row["id"] as Int64): sizes disagree (node \(row["size"] as Int), version \(row["vsize"] as Int), chunks \(row["total"] as Int))")
            }
            let shardless = try Int64.fetchAll(db, sql: """
                SELECT c.id FROM chunk c WHERE (SELECT COUNT(*) FROM shard s WHERE s.chunk = c.id) < c.k
                """)
            problems += shardless.map { "chunk \($0) has fewer shards recorded than it needs" }
            return problems
        }
    }
}

extension Catalog {
    /// A consistent copy of the whole catalog (`VACUUM INTO` a temp file beside it, read, removed).
    /// Safe while other processes write: it reads one snapshot. The mount's runs on the
    /// checkpointing connection, so that creates and unlinks do not wait for it.
    public func snapshot() throws(CatalogError) -> [UInt8] {
        let temp = path + ".snapshot-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { Glibc.unlink(temp) }
        do {
            // VACUUM cannot run inside a transaction, which every GRDB read opens.
            let vacuum = { (db: Database) in try db.execute(sql: "VACUUM INTO ?", arguments: [temp]) }
            if let checkpointer { try checkpointer.writeWithoutTransaction(vacuum) } else { try pool.writeWithoutTransaction(vacuum) }
        } catch {
            throw .database(path: path, reason: "snapshot failed: \(error)")
        }
        guard let data = FileManager.default.contents(atPath: temp) else {
            throw .database(path: path, reason: "snapshot \(temp) unreadable")
        }
        return [UInt8](data)
    }
}

/// A shard waiting in the garbage queue.
public struct GarbageShard: Sendable, Hashable {
    public let shardID: [UInt8]
    public let hostID: Int64

    public init(shardID: [UInt8], hostID: Int64) {
        self.shardID = shardID
        self.hostID = hostID
    }
}

extension Catalog {
    /// Shards queued at least `minAge` seconds ago, at most `limit`.
    public func garbage(olderThan minAge: Int64, limit: Int = 100_000) throws(CatalogError) -> [GarbageShard] {
        let cutoff = Self.now() - minAge * 1_000_000_000
        return try read { db in
            try Row.fetchAll(db, sql: "SELECT shardID, host FROM garbage WHERE queuedAt <= ? LIMIT ?", arguments: [cutoff, limit])
                .map { GarbageShard(shardID: [UInt8]($0["shardID"] as Data), hostID: $0["host"]) }
        }
    }

    /// Forgets shards their hosts have deleted (or no longer hold).
    public func forgetGarbage(_ shards: [GarbageShard]) throws(CatalogError) {
        try write { db in
            for shard in shards {
                try db.execute(sql: "DELETE FROM garbage WHERE shardID = ? AND host = ?",
                               arguments: [Data(shard.shardID), shard.hostID])
            }
        }
    }
}
