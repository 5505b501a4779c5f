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
    public init(path: String) throws(CatalogError) {
        self.path = path
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
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

    /// Runs `body` in one write transaction.
    func write<T>(_ body: (Database) throws -> T) throws(CatalogError) -> T {
        do {
            return try pool.write(body)
        } catch let error as CatalogError {
            throw error
        } catch {
            throw .database(path: path, reason: "\(error)")
        }
    }

    /// Runs `body` on a consistent snapshot.
    func read<T>(_ body: (Database) throws -> T) throws(CatalogError) -> T {
        do {
            return try pool.read(body)
        } catch let error as CatalogError {
            throw error
        } catch {
            throw .database(path: path, reason: "\(error)")
        }
    }
}
