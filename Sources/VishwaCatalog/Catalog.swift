import GRDB

/// The local database of everything the vault knows: hosts now; the namespace, versions, chunks
/// and shards as they are added (DESIGN §6). SQLite through GRDB, WAL mode, foreign keys on.
///
/// Several processes (the CLI and the mount daemon) may open it at once: WAL lets readers run
/// beside one writer, and each change that must survive a crash is one transaction.
/// Thread-safe; every call blocks on SQLite, so async callers run it off the cooperative pool.
public final class Catalog: Sendable {
    public let path: String
    let pool: DatabasePool

    /// Opens (creating if needed) the catalog at `path` and applies pending migrations.
    /// Throws `.newerSchema` when a newer program has migrated it further than this one knows.
    ///
    /// `syncEveryCommit` fsyncs the log at every commit (the CLI). The mount passes false: in WAL
    /// mode every commit is still atomic and survives a crash of any process (it is in the
    /// kernel's hands once committed), only a power cut can lose the last ones; `sync()` makes
    /// them durable when a program asks with fsync. That is the difference between a few hundred
    /// and several thousand file creations per second.
    public init(path: String, syncEveryCommit: Bool = true) throws(CatalogError) {
        self.path = path
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(10)
        let synchronous = syncEveryCommit ? "FULL" : "NORMAL"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
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

    /// Makes every commit so far durable on disk (a checkpoint syncs the log first).
    public func sync() throws(CatalogError) {
        try mapped { try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(PASSIVE)") } }
    }

    /// Runs `body` in one write transaction.
    func write<T>(_ body: (Database) throws -> T) throws(CatalogError) -> T {
        try mapped { try pool.write(body) }
    }

    /// Runs `body` outside a transaction: for reads of a single statement (atomic by themselves),
    /// where BEGIN and COMMIT would cost more than the query. Lookups on the mount's hot paths.
    func quickRead<T>(_ body: (Database) throws -> T) throws(CatalogError) -> T {
        try mapped { try pool.unsafeRead(body) }
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
