import VishwaCore

#if canImport(Glibc)
import Glibc
#endif

/// What a scrub found. Bytes count payloads.
public struct ScrubReport: Sendable, Hashable {
    /// Shards and backups read and checked, good or bad.
    public var checked: Int = 0
    /// Payload bytes of the files that checked good.
    public var bytes: Int = 0
    /// Shards whose header or CRC32C is bad (or that could not be read, EIO), per vault, ascending.
    public var corrupt: [VaultID: [ShardID]] = [:]
    /// Catalog backup generations whose header or CRC32C is bad (or that could not be read), per vault.
    public var corruptBackups: [VaultID: [UInt64]] = [:]

    /// An empty report: nothing checked, nothing corrupt.
    public init() {}
}

// Listing and scrubbing: read-only walks over one vault's shard directories.
extension ShardStore {
    /// One page of the shard ids `vault` holds, ascending: the first `limit` ids greater than
    /// `after` (nil: from the start). `next` is the last id of the page when more may follow (pass
    /// it as `after` for the next page), nil when this page ends the listing. A `limit` below 1
    /// counts as 1. Shards put or deleted during a paged listing may or may not appear.
    ///
    /// Reads only the subdirectories from `after`'s onwards, each fully, so a page costs at most a
    /// few directory listings however many shards the host holds.
    ///
    /// Blocking (disk I/O); thread-safe: call it from any thread, concurrently with any other call.
    ///
    /// - Throws: `.io` when a directory cannot be listed.
    public func list(
        vault: VaultID, after: ShardID? = nil, limit: Int
    ) throws(StoreError) -> (ids: [ShardID], next: ShardID?) {
        let limit = max(1, limit)
        let vaultDirectory = layout.vaultDirectory(vault)
        guard let entries = try Sys.listDirectory(vaultDirectory) else { return ([], nil) }
        let prefixes = entries.filter { $0.kind == .directory && StoreLayout.isPrefixName($0.name) }
            .map(\.name).sorted()
        let first = after?.prefix ?? ""
        var ids: [ShardID] = []
        for prefix in prefixes where prefix >= first {
            guard let files = try Sys.listDirectory(vaultDirectory + "/" + prefix) else { continue }
            var found: [ShardID] = files.compactMap { entry in
                guard entry.kind == .file, let id = ShardID(hex: entry.name), id.prefix == prefix else { return nil }
                if let after, id <= after { return nil }
                return id
            }
            found.sort()
            // One id past the page tells whether another page follows.
            ids.append(contentsOf: found.prefix(limit + 1 - ids.count))
            if ids.count > limit { return (Array(ids.prefix(limit)), ids[limit - 1]) }
        }
        return (ids, nil)
    }

    /// Reads every shard and backup of `vault` (nil: of every vault on disk) and checks header and
    /// CRC32C, without any key and without modifying anything. Corrupt files are also logged.
    /// Files deleted while the scrub runs are skipped. Blocks for as long as reading everything takes.
    ///
    /// Blocking (disk I/O); thread-safe: call it from any thread, concurrently with any other call.
    ///
    /// - Throws: `.io` when a directory cannot be listed or a file cannot be opened or read for a
    ///   reason other than EIO (an EIO read is reported as corruption).
    public func scrub(vault: VaultID? = nil) throws(StoreError) -> ScrubReport {
        let vaults: [VaultID]
        if let vault {
            vaults = [vault]
        } else {
            let names = (try Sys.listDirectory(layout.vaults) ?? []) + (try Sys.listDirectory(layout.backups) ?? [])
            let found = names.compactMap { $0.kind == .directory ? StoreLayout.vault(fromName: $0.name) : nil }
            vaults = Set(found).sorted()
        }
        var report = ScrubReport()
        for vault in vaults {
            var after: ShardID?
            repeat {
                let page = try list(vault: vault, after: after, limit: 1024)
                for id in page.ids {
                    if try !check(layout.shardPath(vault, id), maxPayload: Self.maxShardSize, into: &report) {
                        report.corrupt[vault, default: []].append(id)
                        logger.warning("scrub found a corrupt shard", metadata: ["vault": "\(vault)", "shard": "\(id)"])
                    }
                }
                after = page.next
            } while after != nil
            for generation in try listBackups(vault: vault) {
                if try !check(layout.backupPath(vault, generation), maxPayload: Self.maxBackupSize, into: &report) {
                    report.corruptBackups[vault, default: []].append(generation)
                    logger.warning("scrub found a corrupt catalog backup",
                                   metadata: ["vault": "\(vault)", "generation": "\(generation)"])
                }
            }
        }
        return report
    }

    /// Checks one file into `report`; false when it is corrupt. A file gone meanwhile counts as good and unchecked.
    private func check(_ path: String, maxPayload: Int, into report: inout ScrubReport) throws(StoreError) -> Bool {
        let contents: StoredFile.Contents
        do {
            contents = try StoredFile.read(path, maxPayload: maxPayload)
        } catch .io(_, _, EIO) {
            contents = .corrupt(reason: "EIO")
        }
        switch contents {
        case .missing:
            return true
        case .corrupt:
            report.checked += 1
            return false
        case .payload(let bytes):
            report.checked += 1
            report.bytes += bytes.count
            return true
        }
    }
}
