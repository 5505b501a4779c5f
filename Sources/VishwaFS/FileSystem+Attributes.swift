import VishwaCatalog
import VishwaClient
import VishwaCore

/// Capacity as `statfs` reports it.
public struct Capacity: Sendable {
    /// Usable bytes across hosts: raw space × k/n (what files can still take).
    public var totalBytes: Int
    public var freeBytes: Int
    public var files: Int
}

/// Extended attributes (docs/architecture.md §3–4): any `user.*` is stored; `user.vishwa.tags` maps to the
/// file's tags; `user.vishwa.id`, `.health` and `.placement` are read-only descriptions.
/// Other namespaces are not supported (ENOTSUP, for reads as for writes), answered at once
/// without the catalog: the kernel asks for `security.capability` before every write (it reads
/// ENOTSUP as "none"), and `ls -l` caches ENOTSUP per device and stops asking every file for its
/// SELinux label and ACL, two round trips per file otherwise.
extension FileSystem {
    static let tagsAttribute = "user.vishwa.tags"
    public static let healthAttribute = "user.vishwa.health"
    static let readOnlyAttributes: Set<String> = ["user.vishwa.id", "user.vishwa.health", "user.vishwa.placement"]

    /// Every attribute but `user.vishwa.health`, which asks the hosts (`health(_:)`, async).
    public func extendedAttribute(_ node: Int64, name: String) throws(FSError) -> [UInt8] {
        guard name.hasPrefix("user.") else { throw .notSupported }
        let catalog = catalog
        switch name {
        case Self.tagsAttribute:
            let tags = try now { try catalog.tags(of: node) }
            guard !tags.isEmpty else { throw .noAttribute }
            return Array(tags.joined(separator: ",").utf8)
        case "user.vishwa.id":
            let attributes = try now { try catalog.attributes(of: node) }
            guard attributes.kind == .file else { throw .noAttribute }
            return Array(Hex.encode(attributes.fileID).utf8)
        case Self.healthAttribute:
            throw .io("user.vishwa.health is answered by health(_:)")
        case "user.vishwa.placement":
            return Array(try placement(node).utf8)
        default:
            return try now { try catalog.extendedAttribute(node, name: name) }
        }
    }

    /// Names to list: stored `user.*` attributes and the tags attribute when there are tags.
    /// The read-only descriptions are readable by name but not listed, so `cp -a` and `rsync -X`
    /// do not try to copy them.
    public func extendedAttributeNames(_ node: Int64) throws(FSError) -> [String] {
        let catalog = catalog
        return try now {
            var names = try catalog.extendedAttributeNames(node)
            if !(try catalog.tags(of: node)).isEmpty { names.append(Self.tagsAttribute) }
            return names
        }
    }

    public func setExtendedAttribute(_ node: Int64, name: String, value: [UInt8], create: Bool, replace: Bool)
        throws(FSError)
    {
        guard name.hasPrefix("user.") else { throw .notSupported }
        guard !Self.readOnlyAttributes.contains(name) else { throw .notPermitted }
        try requireWritable()
        let catalog = catalog
        if name == Self.tagsAttribute {
            guard let text = String(validating: value, as: UTF8.self) else { throw .illegalByteSequence }
            let tags = text.split(separator: ",").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
            try now {
                let existing = try catalog.tags(of: node)
                if create && !existing.isEmpty { throw CatalogError.namespace(.exists) }
                if replace && existing.isEmpty { throw CatalogError.namespace(.noAttribute) }
                try catalog.setTags(node, tags)
            }
            return
        }
        guard value.count <= 65536 else { throw .noSpace }
        try now { try catalog.setExtendedAttribute(node, name: name, value: value, create: create, replace: replace) }
    }

    public func removeExtendedAttribute(_ node: Int64, name: String) throws(FSError) {
        guard name.hasPrefix("user.") else { throw .notSupported }
        guard !Self.readOnlyAttributes.contains(name) else { throw .notPermitted }
        try requireWritable()
        let catalog = catalog
        if name == Self.tagsAttribute {
            try now {
                guard !(try catalog.tags(of: node)).isEmpty else { throw CatalogError.namespace(.noAttribute) }
                try catalog.setTags(node, [])
            }
            return
        }
        try now { try catalog.removeExtendedAttribute(node, name: name) }
    }

    /// e.g. "healthy: 10/10 shards per chunk, tolerates 2 host losses" (asks the hosts).
    public func health(_ node: Int64) async throws(FSError) -> String {
        let catalog = catalog
        let attributes = try await db { try catalog.attributes(of: node) }
        guard attributes.kind == .file else { throw .noAttribute }
        do {
            guard let health = try await session.health(of: [node]).first else { throw FSError.noAttribute }
            // The catalog backup is what brings this file back after a lost machine: a failing
            // one is part of every file's health.
            guard let failure = try await db({ try catalog.backupFailure() }) else { return health.summary }
            return health.summary + "; catalog backup failing: \(failure.reason)"
        } catch {
            throw Self.fsError(error)
        }
    }

    /// Where the shards are: per host, how many shards of how many chunks it holds.
    func placement(_ node: Int64) throws(FSError) -> String {
        let catalog = catalog
        return try now {
            let attributes = try catalog.attributes(of: node)
            guard attributes.kind == .file else { throw FSError.noAttribute }
            let file = try catalog.file(node: node)
            let names = Dictionary(uniqueKeysWithValues: try catalog.hosts().map { ($0.id!, $0.name ?? $0.address) })
            var counts: [Int64: Int] = [:]
            for chunk in file.chunks { for shard in chunk.shards { counts[shard.hostID, default: 0] += 1 } }
            let hosts = counts.sorted { $0.key < $1.key }.map { "\(names[$0.key] ?? "host \($0.key)"): \($0.value)" }
            return "\(file.chunks.count) chunks of \(file.k)+\(file.m) shards; " + (hosts.isEmpty ? "no shards" : hosts.joined(separator: ", "))
        }
    }

    /// Usable space across active hosts × k/n, from the hosts' last answers.
    public func capacity() throws(FSError) -> Capacity {
        let catalog = catalog, parameters = options.parameters
        return try now {
            let hosts = try catalog.hosts().filter { $0.state == "active" }
            // Figures came from hosts: sums saturate rather than trap, whatever a catalog holds.
            let add = { (total: Int, bytes: Int) in
                let (sum, overflow) = total.addingReportingOverflow(max(0, bytes))
                return overflow ? Int.max : sum
            }
            let raw = hosts.reduce(0) { total, host in
                let capacity = host.capacityBytes ?? 0
                return add(total, host.quotaBytes.map { min($0, capacity) } ?? capacity)
            }
            let free = hosts.reduce(0) { total, host in
                let room = host.quotaBytes.map { $0.subtractingReportingOverflow(max(0, host.usedBytes ?? 0)) }
                    .map { $0.overflow ? 0 : $0.partialValue } ?? Int.max
                return add(total, min(host.freeBytes ?? 0, room))
            }
            let usable = { (bytes: Int) in Int(Double(bytes) * Double(parameters.k) / Double(parameters.n)) }
            return Capacity(totalBytes: usable(raw), freeBytes: usable(free), files: try catalog.usage().nodes)
        }
    }
}

extension Substring {
    func trimmingWhitespace() -> String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
