import GRDB

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
        return migrator
    }
}
