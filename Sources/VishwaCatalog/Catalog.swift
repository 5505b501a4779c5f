import GRDB
import Synchronization

/// The local database of everything the vault knows: hosts now; the namespace, versions, chunks
/// and shards as they are added (docs/format.md §5). SQLite through GRDB, WAL mode, foreign keys on.
///
/// Several processes (the CLI and the mount daemon) may open it at once: WAL lets readers run
/// beside one writer, and each change that must survive a crash is one transaction.
/// Thread-safe; every call blocks on SQLite, so async callers run it off the cooperative pool.
public final class Catalog: Sendable {
    public let path: String
    let pool: DatabasePool
    /// A connection of its own for `checkpoint()` (the mount's), so checkpoints never hold the writer.
    let checkpointer: DatabaseQueue?
    /// Transactions this process has committed (see `changeCount`).
    private let commits = Atomic<Int>(0)

    /// Opens (creating if needed) the catalog at `path` and applies pending migrations.
    /// Throws `.newerSchema` when a newer program has migrated it further than this one knows.
    ///
    /// `syncEveryCommit` fsyncs the log at every commit (the CLI). The mount passes false: in WAL
    /// mode every commit is still atomic and survives a crash of any process (it is in the
    /// kernel's hands once committed), only a power cut can lose the last ones; `sync()` makes
    /// them durable when a program asks with fsync. That is the difference between a few hundred
    /// and several thousand file creations per second.
    ///
    /// Without `syncEveryCommit` SQLite's automatic checkpoints are off too: one runs inside the
    /// commit that crosses the threshold and fsyncs twice, on the thread that committed (a FUSE
    /// thread); the caller runs `checkpoint()` often instead (the mount: four times a second).
    public init(path: String, syncEveryCommit: Bool = true) throws(CatalogError) {
        self.path = path
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(10)
        // 2 KiB pages, for a catalog made now (SQLite keeps the size a database was made with):
        // a create or an unlink changes about five pages, each written whole to the log at commit.
        let pageSize = "PRAGMA page_size = \(Self.pageSize); "
        let pragmas = pageSize + (syncEveryCommit ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0")
        configuration.prepareDatabase { db in
            try db.execute(sql: pragmas)
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            // A restarting checkpoint holds writers back while it waits for readers (another
            // process may read for long): it gives up after 50 ms, and the next one tries again.
            var checkpointing = configuration
            checkpointing.busyMode = .timeout(0.05)
            checkpointer = syncEveryCommit ? nil : try DatabaseQueue(path: path, configuration: checkpointing)
            let migrator = Self.migrator
            try pool.read { db in
                let known = Set(migrator.migrations)
                let unknown = try migrator.appliedIdentifiers(db).filter { !known.contains($0) }
                if !unknown.isEmpty { throw CatalogError.newerSchema(path: path, unknown: unknown.sorted()) }
            }
            try migrator.migrate(pool)
        } catch let error as CatalogError {
            throw error
        } catch {
            throw .database(path: path, reason: "\(error)")
        }
    }

    /// The page size of new catalogs (see `init`).
    static let pageSize = 2048

    /// Makes every commit so far durable on disk (a checkpoint syncs the log first).
    public func sync() throws(CatalogError) {
        try mapped { try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(PASSIVE)") } }
    }

    /// Copies committed changes from the log into the database and syncs both, on a connection of
    /// its own, beside the writer: a passive checkpoint never blocks it. For catalogs opened
    /// without `syncEveryCommit`, whose automatic checkpoints are off; a no-op otherwise.
    ///
    /// Under a steady stream of commits a passive checkpoint never finds the log fully copied, and
    /// SQLite only starts the log over from its beginning when it is: so once the log passes
    /// `restartAfterPages`, a restarting checkpoint follows, which holds writers back only for
    /// what the passive one left (the heavy syncing is done by then). The log stays bounded.
    public func checkpoint(restartAfterPages: Int = 4096) throws(CatalogError) {
        guard let checkpointer else { return }
        try mapped {
            try checkpointer.writeWithoutTransaction { db in
                let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)")
                if let pages = row?[1] as Int?, pages > restartAfterPages {
                    try db.execute(sql: "PRAGMA wal_checkpoint(RESTART)")
                }
            }
        }
    }

    /// How many changes this process has committed so far, backup bookkeeping left out: the
    /// mount backs the catalog up when it has moved on since the last backup.
    public var changeCount: Int { commits.load(ordering: .relaxed) }

    /// Runs `body` in one write transaction; `counted: false` for writes that are not changes
    /// worth a backup (the backup's own bookkeeping).
    func write<T>(counted: Bool = true, _ body: (Database) throws -> T) throws(CatalogError) -> T {
        try mapped {
            try pool.writeWithoutTransaction { db in
                // BEGIN and COMMIT as statements compiled once: GRDB's `write` compiles both
                // afresh for every transaction, a measurable part of a create or an unlink.
                try db.cachedStatement(sql: "BEGIN IMMEDIATE TRANSACTION").execute()
                do {
                    let result = try body(db)
                    try db.cachedStatement(sql: "COMMIT TRANSACTION").execute()
                    if counted { commits.add(1, ordering: .relaxed) }
                    return result
                } catch {
                    try? db.rollback()
                    throw error
                }
            }
        }
    }

    /// Runs `body` outside a transaction: for reads of a single statement (atomic by themselves),
    /// where BEGIN and COMMIT would cost more than the query. Lookups on the mount's hot paths.
    ///
    /// On the writer's connection: its page cache holds what was just written, where a reader
    /// connection must re-read every page a commit touched; and it skips the reader pool.
    func quickRead<T>(_ body: (Database) throws -> T) throws(CatalogError) -> T {
        try mapped { try pool.writeWithoutTransaction(body) }
    }

    /// Runs `body` on a consistent snapshot.
    func read<T>(_ body: (Database) throws -> T) throws(CatalogError) -> T {
        try mapped { try pool.read(body) }
    }

    /// Our own errors pass through; SQLite's become one line naming the catalog.
    private func mapped<T>(_ body: () throws -> T) throws(CatalogError) -> T {
        do {
            return try body()
        } catch let error as CatalogError {
            throw error
        } catch {
            throw .database(path: path, reason: "\(error)")
        }
    }
}
