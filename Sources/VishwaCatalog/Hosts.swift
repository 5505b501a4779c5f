import GRDB

/// A host this vault has paired with: where it is, its pinned key, and what it last reported.
public struct HostRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "host"

    public var id: Int64?
    public var address: String
    public var publicKey: [UInt8]
    public var name: String?
    public var capacityBytes: Int?
    public var freeBytes: Int?
    public var usedBytes: Int?
    public var quotaBytes: Int?
    /// Unix seconds of the last successful contact.
    public var lastSeen: Int?
    /// `active`, `draining` (shards being moved away) or `removed`.
    public var state: String
    public var addedAt: Int

    public init(address: String, publicKey: [UInt8], name: String? = nil, addedAt: Int) {
        self.address = address
        self.publicKey = publicKey
        self.name = name
        self.state = "active"
        self.addedAt = addedAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    enum CodingKeys: String, CodingKey {
        case id, address, publicKey, name, capacityBytes, freeBytes, usedBytes, quotaBytes, lastSeen, state, addedAt
    }

    public func encode(to container: inout PersistenceContainer) throws {
        container["id"] = id
        container["address"] = address
        container["publicKey"] = Data(publicKey)
        container["name"] = name
        container["capacityBytes"] = capacityBytes
        container["freeBytes"] = freeBytes
        container["usedBytes"] = usedBytes
        container["quotaBytes"] = quotaBytes
        container["lastSeen"] = lastSeen
        container["state"] = state
        container["addedAt"] = addedAt
    }

    public init(row: Row) throws {
        id = row["id"]
        address = row["address"]
        publicKey = [UInt8]((row["publicKey"] as Data?) ?? Data())
        name = row["name"]
        capacityBytes = row["capacityBytes"]
        freeBytes = row["freeBytes"]
        usedBytes = row["usedBytes"]
        quotaBytes = row["quotaBytes"]
        lastSeen = row["lastSeen"]
        state = row["state"]
        addedAt = row["addedAt"]
    }
}

extension Catalog {
    /// Hosts not removed, in the order they were added.
    public func hosts() throws(CatalogError) -> [HostRecord] {
        try read { db in try HostRecord.filter(Column("state") != "removed").order(Column("id")).fetchAll(db) }
    }

    /// Adds a host, or updates the address and name of one already pinned with this key.
    /// Returns the stored record and whether it was new.
    @discardableResult
    public func addHost(_ host: HostRecord) throws(CatalogError) -> (record: HostRecord, isNew: Bool) {
        try write { db in
            if var existing = try HostRecord.filter(Column("publicKey") == Data(host.publicKey)).fetchOne(db) {
                existing.address = host.address
                existing.name = host.name ?? existing.name
                existing.state = "active"
                existing.quotaBytes = host.quotaBytes ?? existing.quotaBytes
                existing.capacityBytes = host.capacityBytes ?? existing.capacityBytes
                existing.freeBytes = host.freeBytes ?? existing.freeBytes
                existing.usedBytes = host.usedBytes ?? existing.usedBytes
                existing.lastSeen = host.lastSeen ?? existing.lastSeen
                try existing.update(db)
                return (existing, false)
            }
            var record = host
            try record.insert(db)
            return (record, true)
        }
    }

    /// Records what a host reported when it was last reached. Not a change worth a backup: the
    /// mount pings every host every 10 s, and counting these made an idle mount store a new
    /// catalog backup every minute (a recovered catalog learns them again at its first ping).
    /// nil figures: the host's answer was not believable, so nothing is known of its space.
    public func recordContact(hostID: Int64, capacityBytes: Int?, freeBytes: Int?, usedBytes: Int?, quotaBytes: Int?, at time: Int) throws(CatalogError) {
        try write(counted: false) { db in
            try db.execute(sql: """
                UPDATE host SET capacityBytes = ?, freeBytes = ?, usedBytes = ?, quotaBytes = ?, lastSeen = ? WHERE id = ?
                """, arguments: [capacityBytes, freeBytes, usedBytes, quotaBytes, time, hostID])
        }
    }
}

import Foundation

extension Catalog {
    /// The files whose current versions keep shards on `hostID`.
    public func filesWithShards(onHost hostID: Int64) throws(CatalogError) -> [Int64] {
        try read { db in
            try Int64.fetchAll(db, sql: """
                SELECT DISTINCT n.id FROM node n JOIN version_chunk vc ON vc.version = n.currentVersion
                JOIN shard s ON s.chunk = vc.chunk WHERE s.host = ?
                """, arguments: [hostID])
        }
    }

    /// Sets a host's state: `active`, `draining` or `removed` (removed hosts are no longer listed or used).
    public func setHostState(_ hostID: Int64, _ state: String) throws(CatalogError) {
        try write { db in try db.execute(sql: "UPDATE host SET state = ? WHERE id = ?", arguments: [state, hostID]) }
    }
}
