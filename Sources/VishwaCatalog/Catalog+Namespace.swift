import Foundation
import GRDB

/// What a namespace operation of the mount can fail with; the mount maps each to one errno.
public enum NamespaceError: Error, Equatable, Sendable {
    case notFound, exists, notEmpty, notDirectory, isDirectory, invalid, notPermitted, noAttribute
    /// The node asked for by its id is no longer in the catalog (another process removed it);
    /// `notFound` is for a name that is not there.
    case gone
}

public enum NodeKind: String, Sendable, CaseIterable {
    case directory = "dir", file, symlink
    /// Special files: a type and permissions (devices: a device number), no data. What they
    /// do (a pipe, a socket, a device) happens in the kernel of the machine that opens them.
    case fifo, socket, characterDevice = "char", blockDevice = "block"

    /// The S_IFMT bits of this kind.
    public var typeBits: UInt32 {
        switch self {
        case .directory: return 0o040000
        case .file: return 0o100000
        case .symlink: return 0o120000
        case .fifo: return 0o010000
        case .socket: return 0o140000
        case .characterDevice: return 0o020000
        case .blockDevice: return 0o060000
        }
    }

    /// The kind with these S_IFMT bits (of a whole mode), if any.
    public init?(typeBits mode: UInt32) {
        guard let kind = Self.allCases.first(where: { $0.typeBits == mode & 0o170000 }) else { return nil }
        self = kind
    }

    /// FIFOs, sockets and devices.
    public var isSpecial: Bool { ![.directory, .file, .symlink].contains(self) }

    /// Device nodes, which only a caller with CAP_MKNOD may make.
    public var isDevice: Bool { self == .characterDevice || self == .blockDevice }
}

/// A node's attributes as `stat` shows them; times in nanoseconds since the epoch.
public struct NodeAttributes: Sendable, Equatable {
    public var id: Int64
    public var kind: NodeKind
    /// Permission bits only (no type bits).
    public var permissions: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var size: Int
    public var atime: Int64
    public var mtime: Int64
    public var ctime: Int64
    public var nlink: Int
    /// The committed version number (0: none yet).
    public var version: UInt64
    public var fileID: [UInt8]
    /// A device node's device number (0 for every other kind).
    public var rdev: UInt64 = 0

    public var mode: UInt32 { kind.typeBits | (permissions & 0o7777) }
}

/// One name in a directory, with its node's attributes (what readdirplus answers).
public struct NamedNode: Sendable {
    public var name: String
    public var attributes: NodeAttributes

    public init(name: String, attributes: NodeAttributes) {
        self.name = name
        self.attributes = attributes
    }
}

/// Changes asked of `setattr`; nil leaves a field alone.
public struct AttributeChanges: Sendable {
    public var permissions: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?
    public var atime: Int64?
    public var mtime: Int64?

    public init(permissions: UInt32? = nil, uid: UInt32? = nil, gid: UInt32? = nil, atime: Int64? = nil, mtime: Int64? = nil) {
        self.permissions = permissions
        self.uid = uid
        self.gid = gid
        self.atime = atime
        self.mtime = mtime
    }
}

/// Who creates a node, and with which permission bits.
public struct Creator: Sendable {
    public var uid: UInt32
    public var gid: UInt32
    public var permissions: UInt32

    public init(uid: UInt32, gid: UInt32, permissions: UInt32) {
        self.uid = uid
        self.gid = gid
        self.permissions = permissions
    }
}

/// The namespace operations of the mount (docs/architecture.md §3–4), each one transaction.
extension Catalog {
    static let attributeColumns = columns(of: "n")

    /// The columns `attributes(_:from:)` reads, of the node table named `alias` in a query.
    static func columns(of alias: String) -> String {
        """
        \(alias).id, \(alias).kind, \(alias).mode, \(alias).uid, \(alias).gid, \(alias).size, \(alias).atime, \(alias).mtime,
        \(alias).ctime, \(alias).nlink, \(alias).fileID, IFNULL((SELECT number FROM version WHERE id = \(alias).currentVersion), 0),
        \(alias).rdev
        """
    }

    /// How many columns `columns(of:)` names.
    static let columnCount = 13

    static let directoryAndEntryColumns = columns(of: "p") + ", " + attributeColumns

    /// The attributes in a row that holds `attributeColumns` from column `first` on, read by
    /// position (listings and lookups decode thousands of rows).
    static func attributes(_ row: Columns, from first: Int = 0) -> NodeAttributes {
        NodeAttributes(id: row.int(first), kind: NodeKind(rawValue: row.text(first + 1)) ?? .file,
                       permissions: UInt32(truncatingIfNeeded: row.int(first + 2) & 0o7777),
                       uid: UInt32(truncatingIfNeeded: row.int(first + 3)), gid: UInt32(truncatingIfNeeded: row.int(first + 4)),
                       size: Int(row.int(first + 5)), atime: row.int(first + 6), mtime: row.int(first + 7),
                       ctime: row.int(first + 8), nlink: Int(row.int(first + 9)), version: UInt64(row.int(first + 11)),
                       fileID: row.bytes(first + 10), rdev: UInt64(bitPattern: row.int(first + 12)))
    }

    static func attributes(of node: Int64, in db: Database) throws -> NodeAttributes {
        guard let attributes = try db.rows(cached: "SELECT \(attributeColumns) FROM node n WHERE n.id = ?", arguments: [node],
                                           { Self.attributes($0) }).first else {
            throw CatalogError.namespace(.gone)
        }
        return attributes
    }

    public func attributes(of node: Int64) throws(CatalogError) -> NodeAttributes {
        try quickRead { db in try Self.attributes(of: node, in: db) }
    }

    /// The node named `name` in directory `parent`.
    public func lookup(parent: Int64, name: String) throws(CatalogError) -> NodeAttributes {
        let (directory, node) = try entry(in: parent, named: name)
        guard directory.kind == .directory else { throw .namespace(.notDirectory) }
        guard let node else { throw .namespace(.notFound) }
        return node
    }

    /// Node `parent` and the node named `name` in it (nil: no such name), in one statement for a
    /// hit and a miss (every create looks its new name up first): the parent tells a missing name
    /// from a parent that is not a directory, and its mode whether the caller may search it.
    public func entry(in parent: Int64, named name: String) throws(CatalogError) -> (directory: NodeAttributes, node: NodeAttributes?) {
        try quickRead { db in
            let found = try db.rows(cached: """
                SELECT \(Self.directoryAndEntryColumns) FROM node p
                LEFT JOIN entry e ON e.parent = p.id AND e.name = ? LEFT JOIN node n ON n.id = e.node WHERE p.id = ?
                """, arguments: [name, parent]) { row in
                (Self.attributes(row), row.isNull(Self.columnCount) ? nil : Self.attributes(row, from: Self.columnCount))
            }
            guard let found = found.first else { throw CatalogError.namespace(.gone) }
            return found
        }
    }

    /// Every entry of directory `parent` in name order, with attributes (one query, so a
    /// 10,000-entry listing costs one round trip).
    public func entries(of parent: Int64) throws(CatalogError) -> [NamedNode] {
        try read { db in
            try Self.requireDirectory(parent, in: db)
            return try db.rows(cached: """
                SELECT e.name, \(Self.attributeColumns) FROM entry e JOIN node n ON n.id = e.node WHERE e.parent = ? ORDER BY e.name
                """, arguments: [parent]) { NamedNode(name: $0.text(0), attributes: Self.attributes($0, from: 1)) }
        }
    }

    /// The directory holding `node` (the root is its own parent).
    public func parent(of node: Int64) throws(CatalogError) -> Int64 {
        if node == Self.rootNode { return node }
        return try quickRead { db in
            try Int64.fetchOne(cached: db, sql: "SELECT parent FROM entry WHERE node = ? LIMIT 1", arguments: [node]) ?? Self.rootNode
        }
    }

    /// The id of a node being inserted: above every id in use and every id removed (see the
    /// `node_ids_not_reused` trigger), so the kernel never mistakes a new node for an old one.
    static let newNodeID = """
        (SELECT MAX(IFNULL((SELECT MAX(id) FROM node), 0), IFNULL((SELECT value FROM meta WHERE key = 'removedNodeID'), 0)) + 1)
        """

    static func requireDirectory(_ node: Int64, in db: Database) throws {
        guard let kind = try String.fetchOne(cached: db, sql: "SELECT kind FROM node WHERE id = ?", arguments: [node]) else {
            throw CatalogError.namespace(.gone)
        }
        guard kind == NodeKind.directory.rawValue else { throw CatalogError.namespace(.notDirectory) }
    }

    /// Creates a file, directory or symlink named `name` in `parent`. Files get a fresh random
    /// file id and no version (empty) until their first commit.
    public func create(parent: Int64, name: String, kind: NodeKind, creator: Creator, target: [UInt8]? = nil, rdev: UInt64 = 0)
        throws(CatalogError) -> NodeAttributes
    {
        let rdev = kind.isDevice ? rdev : 0
        return try write { db in
            // The statements check what they must (creating many files is a common load): the
            // parent's update finds only a directory, and a taken name breaks the entry's key.
            let now = Self.now()
            try db.run(sql: "UPDATE node SET mtime = ?, ctime = ?, nlink = nlink + ? WHERE id = ? AND kind = 'dir'",
                       arguments: [now, now, kind == .directory ? 1 : 0, parent])
            if db.changesCount == 0 {
                try Self.requireDirectory(parent, in: db)  // says which: missing or not a directory
                throw CatalogError.namespace(.gone)
            }
            let fileID = kind == .file ? Self.newFileID() : nil
            let mode = Int64(kind.typeBits | (creator.permissions & 0o7777))
            let nlink = kind == .directory ? 2 : 1
            try db.run(sql: """
                INSERT INTO node (id, kind, mode, uid, gid, size, atime, mtime, ctime, nlink, target, fileID, rdev)
                VALUES (\(Self.newNodeID), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [kind.rawValue, mode, Int64(creator.uid), Int64(creator.gid), target?.count ?? 0,
                                 now, now, now, nlink, target.map { Data($0) }, fileID.map { Data($0) }, Int64(bitPattern: rdev)])
            let node = db.lastInsertedRowID
            do {
                try db.run(sql: "INSERT INTO entry (parent, name, node) VALUES (?, ?, ?)", arguments: [parent, name, node])
            } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY {
                throw CatalogError.namespace(.exists)  // the transaction, node included, rolls back
            }
            // What was just inserted, without reading it back (creating many files is a common load).
            return NodeAttributes(id: node, kind: kind, permissions: creator.permissions & 0o7777, uid: creator.uid,
                                  gid: creator.gid, size: target?.count ?? 0, atime: now, mtime: now, ctime: now,
                                  nlink: nlink, version: 0, fileID: fileID ?? [], rdev: rdev)
        }
    }

    /// The target of a symlink.
    public func symlinkTarget(_ node: Int64) throws(CatalogError) -> [UInt8] {
        try quickRead { db in
            guard let row = try Row.fetchOne(cached: db, sql: "SELECT kind, target FROM node WHERE id = ?", arguments: [node]) else {
                throw CatalogError.namespace(.gone)
            }
            guard (row["kind"] as String) == NodeKind.symlink.rawValue else { throw CatalogError.namespace(.invalid) }
            return [UInt8]((row["target"] as Data?) ?? Data())
        }
    }

    /// A second name for a file or symlink (directories cannot be hard-linked: EPERM).
    public func link(node: Int64, parent: Int64, name: String) throws(CatalogError) -> NodeAttributes {
        try write { db in
            try Self.requireDirectory(parent, in: db)
            let attributes = try Self.attributes(of: node, in: db)
            guard attributes.kind != .directory else { throw CatalogError.namespace(.notPermitted) }
            if try Self.entryNode(parent, name, in: db) != nil { throw CatalogError.namespace(.exists) }
            let now = Self.now()
            try db.run(sql: "INSERT INTO entry (parent, name, node) VALUES (?, ?, ?)", arguments: [parent, name, node])
            try db.run(sql: "UPDATE node SET nlink = nlink + 1, ctime = ? WHERE id = ?", arguments: [now, node])
            try db.run(sql: "UPDATE node SET mtime = ?, ctime = ? WHERE id = ?", arguments: [now, now, parent])
            return try Self.attributes(of: node, in: db)
        }
    }

    /// Removes the name of a file or symlink. When it was the last name the node goes too, with
    /// its versions (shards to the garbage queue), unless `keepIfLast` (the file is still open:
    /// it lives on, nameless, until `removeOrphan`). Returns the node.
    @discardableResult
    public func unlink(parent: Int64, name: String, keepIfLast: (Int64) -> Bool) throws(CatalogError) -> Int64 {
        try write { db in
            // What dropEntry would ask next (how many names, whether there are versions to free),
            // asked in the same statement: removing many files is a common load.
            guard let row = try db.rows(cached: """
                SELECT e.node, n.kind, (SELECT COUNT(*) FROM entry x WHERE x.node = e.node),
                       EXISTS (SELECT 1 FROM version v WHERE v.node = e.node)
                FROM entry e JOIN node n ON n.id = e.node WHERE e.parent = ? AND e.name = ?
                """, arguments: [parent, name], { (node: $0.int(0), kind: $0.text(1), names: Int($0.int(2)), hasVersions: $0.int(3) != 0) }).first
            else { throw CatalogError.namespace(.notFound) }
            guard row.kind != NodeKind.directory.rawValue else { throw CatalogError.namespace(.isDirectory) }
            try Self.dropEntry(parent, name, node: row.node, isDirectory: false, keepIfLast: keepIfLast(row.node),
                               known: (names: row.names, hasVersions: row.hasVersions), in: db)
            return row.node
        }
    }

    /// Removes an empty directory.
    public func rmdir(parent: Int64, name: String) throws(CatalogError) {
        try write { db in
            guard let node = try Self.entryNode(parent, name, in: db) else { throw CatalogError.namespace(.notFound) }
            try Self.requireDirectory(node, in: db)
            if try Self.hasEntries(node, in: db) { throw CatalogError.namespace(.notEmpty) }
            try Self.dropEntry(parent, name, node: node, isDirectory: true, keepIfLast: false, in: db)
        }
    }

    /// Deletes a file that lost its last name while open, once it is closed.
    public func removeOrphan(_ node: Int64) throws(CatalogError) {
        try write { db in
            guard try Int.fetchOne(cached: db, sql: "SELECT COUNT(*) FROM entry WHERE node = ?", arguments: [node]) == 0 else { return }
            try Self.deleteNode(node, in: db)
        }
    }

    /// Deletes every nameless node (files unlinked while open when the mount stopped); returns how many.
    @discardableResult
    public func removeOrphans() throws(CatalogError) -> Int {
        try write { db in
            try db.run(sql: "DELETE FROM node WHERE id != ? AND NOT EXISTS (SELECT 1 FROM entry e WHERE e.node = node.id)",
                           arguments: [Self.rootNode])
            let removed = db.changesCount
            try Self.collectGarbage(in: db)
            return removed
        }
    }

    /// Renames `name` in `parent` to `newName` in `newParent` (POSIX rename: replaces a file by a
    /// file, a directory by an empty directory). `noReplace` fails with `exists` instead;
    /// `exchange` swaps the two names, which must both exist.
    public func rename(parent: Int64, name: String, newParent: Int64, newName: String, noReplace: Bool = false,
                       exchange: Bool = false, keepIfLast: (Int64) -> Bool) throws(CatalogError)
    {
        try write { db in
            try Self.requireDirectory(parent, in: db)
            try Self.requireDirectory(newParent, in: db)
            guard let node = try Self.entryNode(parent, name, in: db) else { throw CatalogError.namespace(.notFound) }
            let source = try Self.attributes(of: node, in: db)
            let target = try Self.entryNode(newParent, newName, in: db)
            if target == node { return }
            if source.kind == .directory, try Self.isAncestor(node, of: newParent, in: db) {
                throw CatalogError.namespace(.invalid)
            }
            let now = Self.now()
            if exchange {
                guard let target else { throw CatalogError.namespace(.notFound) }
                let other = try Self.attributes(of: target, in: db)
                if other.kind == .directory, try Self.isAncestor(target, of: parent, in: db) { throw CatalogError.namespace(.invalid) }
                try db.run(sql: "UPDATE entry SET node = ? WHERE parent = ? AND name = ?", arguments: [target, parent, name])
                try db.run(sql: "UPDATE entry SET node = ? WHERE parent = ? AND name = ?", arguments: [node, newParent, newName])
                let directoryShift = (source.kind == .directory ? 1 : 0) - (other.kind == .directory ? 1 : 0)
                try Self.adjustLinks(parent, by: -directoryShift, now: now, in: db)
                try Self.adjustLinks(newParent, by: directoryShift, now: now, in: db)
                try db.run(sql: "UPDATE node SET ctime = ? WHERE id IN (?, ?)", arguments: [now, node, target])
                return
            }
            if let target {
                if noReplace { throw CatalogError.namespace(.exists) }
                let replaced = try Self.attributes(of: target, in: db)
                switch (source.kind == .directory, replaced.kind == .directory) {
                case (true, false): throw CatalogError.namespace(.notDirectory)
                case (false, true): throw CatalogError.namespace(.isDirectory)
                case (true, true): if try Self.hasEntries(target, in: db) { throw CatalogError.namespace(.notEmpty) }
                case (false, false): break
                }
                try Self.dropEntry(newParent, newName, node: target, keepIfLast: keepIfLast(target), in: db)
            }
            try db.run(sql: "UPDATE entry SET parent = ?, name = ? WHERE parent = ? AND name = ?",
                           arguments: [newParent, newName, parent, name])
            let isDirectory = source.kind == .directory ? 1 : 0
            try Self.adjustLinks(parent, by: -isDirectory, now: now, in: db)
            try Self.adjustLinks(newParent, by: isDirectory, now: now, in: db)
            try db.run(sql: "UPDATE node SET ctime = ? WHERE id = ?", arguments: [now, node])
        }
    }

    /// Applies `changes` (times, owner, permissions) and returns the new attributes.
    public func setAttributes(_ node: Int64, _ changes: AttributeChanges) throws(CatalogError) -> NodeAttributes {
        try write { db in
            var attributes = try Self.attributes(of: node, in: db)
            if let permissions = changes.permissions { attributes.permissions = permissions & 0o7777 }
            if let uid = changes.uid { attributes.uid = uid }
            if let gid = changes.gid { attributes.gid = gid }
            if let atime = changes.atime { attributes.atime = atime }
            if let mtime = changes.mtime { attributes.mtime = mtime }
            attributes.ctime = Self.now()
            try db.run(sql: "UPDATE node SET mode = ?, uid = ?, gid = ?, atime = ?, mtime = ?, ctime = ? WHERE id = ?",
                           arguments: [Int64(attributes.mode), Int64(attributes.uid), Int64(attributes.gid), attributes.atime,
                                       attributes.mtime, attributes.ctime, node])
            return attributes
        }
    }

    /// Truncates a file to zero bytes at once (no version; its old chunks to the garbage queue).
    public func truncateToEmpty(_ node: Int64) throws(CatalogError) {
        try write { db in
            let now = Self.now()
            let chunks = try Self.chunks(ofNode: node, in: db)
            try db.run(sql: "DELETE FROM version WHERE node = ?", arguments: [node])
            try db.run(sql: "UPDATE node SET size = 0, currentVersion = NULL, degraded = 0, mtime = ?, ctime = ? WHERE id = ?",
                           arguments: [now, now, node])
            try Self.collectGarbage(chunks, in: db)
        }
    }

    /// How many entries, files and bytes the namespace holds (for statfs).
    public func usage() throws(CatalogError) -> (nodes: Int, bytes: Int) {
        try read { db in
            let row = try Row.fetchOne(cached: db, sql: "SELECT COUNT(*) AS c, IFNULL(SUM(size), 0) AS s FROM node")!
            return (row["c"], row["s"])
        }
    }

    static func entryNode(_ parent: Int64, _ name: String, in db: Database) throws -> Int64? {
        try Int64.fetchOne(cached: db, sql: "SELECT node FROM entry WHERE parent = ? AND name = ?", arguments: [parent, name])
    }

    static func hasEntries(_ directory: Int64, in db: Database) throws -> Bool {
        try Bool.fetchOne(cached: db, sql: "SELECT EXISTS (SELECT 1 FROM entry WHERE parent = ?)", arguments: [directory]) ?? false
    }

    /// True when `ancestor` is `node` or one of the directories above it.
    static func isAncestor(_ ancestor: Int64, of node: Int64, in db: Database) throws -> Bool {
        var current = node
        for _ in 0..<4096 {
            if current == ancestor { return true }
            if current == rootNode { return false }
            guard let up = try Int64.fetchOne(cached: db, sql: "SELECT parent FROM entry WHERE node = ? LIMIT 1", arguments: [current]) else {
                return false
            }
            current = up
        }
        return false
    }

    static func adjustLinks(_ directory: Int64, by delta: Int, now: Int64, in db: Database) throws {
        try db.run(sql: "UPDATE node SET nlink = nlink + ?, mtime = ?, ctime = ? WHERE id = ?",
                       arguments: [delta, now, now, directory])
    }

    /// Removes one name; the node goes with its last name unless `keepIfLast`. `known` is what
    /// the caller already read about the node: its names (this one included) and whether it has
    /// versions.
    static func dropEntry(_ parent: Int64, _ name: String, node: Int64, isDirectory: Bool? = nil, keepIfLast: Bool,
                          known: (names: Int, hasVersions: Bool)? = nil, in db: Database) throws {
        let now = now()
        let isDirectory = try isDirectory
            ?? (String.fetchOne(cached: db, sql: "SELECT kind FROM node WHERE id = ?", arguments: [node]) == NodeKind.directory.rawValue)
        try db.run(sql: "DELETE FROM entry WHERE parent = ? AND name = ?", arguments: [parent, name])
        try adjustLinks(parent, by: isDirectory ? -1 : 0, now: now, in: db)
        let remaining = try known.map { $0.names - 1 }
            ?? Int.fetchOne(cached: db, sql: "SELECT COUNT(*) FROM entry WHERE node = ?", arguments: [node]) ?? 0
        if remaining == 0 && !(keepIfLast && !isDirectory) {
            try deleteNode(node, hasVersions: known?.hasVersions, in: db)
        } else {
            try db.run(sql: "UPDATE node SET nlink = ?, ctime = ? WHERE id = ?",
                           arguments: [isDirectory ? 0 : remaining, now, node])
        }
    }
}

/// Extended attributes: any `user.*` name, stored as given. Tags live in their own table and are
/// read and written as the `user.vishwa.tags` attribute by the mount.
extension Catalog {
    public func extendedAttribute(_ node: Int64, name: String) throws(CatalogError) -> [UInt8] {
        try read { db in
            _ = try Self.attributes(of: node, in: db)
            guard let value = try Data.fetchOne(cached: db, sql: "SELECT value FROM xattr WHERE node = ? AND name = ?",
                                                arguments: [node, name]) else { throw CatalogError.namespace(.noAttribute) }
            return [UInt8](value)
        }
    }

    public func extendedAttributeNames(_ node: Int64) throws(CatalogError) -> [String] {
        try read { db in
            _ = try Self.attributes(of: node, in: db)
            return try String.fetchAll(cached: db, sql: "SELECT name FROM xattr WHERE node = ? ORDER BY name", arguments: [node])
        }
    }

    /// Sets an attribute; `create` fails with `exists` when it is set, `replace` with `noAttribute` when not.
    public func setExtendedAttribute(_ node: Int64, name: String, value: [UInt8], create: Bool, replace: Bool) throws(CatalogError) {
        try write { db in
            _ = try Self.attributes(of: node, in: db)
            let exists = try Bool.fetchOne(cached: db, sql: "SELECT EXISTS (SELECT 1 FROM xattr WHERE node = ? AND name = ?)",
                                           arguments: [node, name]) ?? false
            if create && exists { throw CatalogError.namespace(.exists) }
            if replace && !exists { throw CatalogError.namespace(.noAttribute) }
            try db.run(sql: "INSERT OR REPLACE INTO xattr (node, name, value) VALUES (?, ?, ?)",
                           arguments: [node, name, Data(value)])
            try db.run(sql: "UPDATE node SET ctime = ? WHERE id = ?", arguments: [Self.now(), node])
        }
    }

    public func removeExtendedAttribute(_ node: Int64, name: String) throws(CatalogError) {
        try write { db in
            try db.run(sql: "DELETE FROM xattr WHERE node = ? AND name = ?", arguments: [node, name])
            guard db.changesCount > 0 else { throw CatalogError.namespace(.noAttribute) }
            try db.run(sql: "UPDATE node SET ctime = ? WHERE id = ?", arguments: [Self.now(), node])
        }
    }

    public func tags(of node: Int64) throws(CatalogError) -> [String] {
        try read { db in
            _ = try Self.attributes(of: node, in: db)
            return try Self.tags(of: node, in: db)
        }
    }

    /// Replaces a node's tags (empty removes them all).
    public func setTags(_ node: Int64, _ tags: [String]) throws(CatalogError) {
        try write { db in
            _ = try Self.attributes(of: node, in: db)
            try db.run(sql: "DELETE FROM tag WHERE node = ?", arguments: [node])
            for tag in Set(tags) { try db.run(sql: "INSERT INTO tag (node, tag) VALUES (?, ?)", arguments: [node, tag]) }
            try db.run(sql: "UPDATE node SET ctime = ? WHERE id = ?", arguments: [Self.now(), node])
        }
    }
}

extension Catalog {
    /// Whether `node` still has a name (a file unlinked while open has none).
    public func hasNames(_ node: Int64) throws(CatalogError) -> Bool {
        try quickRead { db in
            try Bool.fetchOne(cached: db, sql: "SELECT EXISTS (SELECT 1 FROM entry WHERE node = ?)", arguments: [node]) ?? false
        }
    }
}
