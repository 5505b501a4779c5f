import VishwaCore

// Catalog backups: the client's encrypted catalog, stored in numbered generations per vault.
extension ShardStore {
    /// Stores `bytes` as catalog backup `generation` of `vault`, as durably as a shard (same file
    /// format, temp file, fsync, rename, directory fsync), replacing that generation if present.
    /// Afterwards only the newest `keptBackups` generations are kept: older ones are deleted (so a
    /// generation older than all of those is stored and deleted at once). A failure to delete an
    /// old generation is logged, not thrown: the new one is stored.
    ///
    /// Backups count against `quota` like shards, at the same charge; the generations this put will delete are
    /// subtracted for the check. `bytes` is only read during the call.
    ///
    /// Blocking (disk I/O); thread-safe: call it from any thread, concurrently with any other call.
    ///
    /// - Throws: `.tooLarge` over `maxBackupSize`; `.quotaExceeded`, `.diskFull` and `.io` as `put`.
    public func putBackup(
        vault: VaultID, generation: UInt64, bytes: UnsafeRawBufferPointer, quota: Int?
    ) throws(StoreError) {
        guard bytes.count <= Self.maxBackupSize else {
            throw .tooLarge(size: bytes.count, max: Self.maxBackupSize)
        }
        let existing = try listBackups(vault: vault)
        let kept = Set((existing + [generation]).sorted(by: >).prefix(Self.keptBackups))
        let freeing = existing.filter { !kept.contains($0) && $0 != generation }.reduce(0) { total, old in
            total + ((try? Sys.regularFileSize(layout.backupPath(vault, old))).map(Self.charge(fileSize:)) ?? 0)
        }
        let directory = layout.backupDirectory(vault)
        try write(bytes, to: layout.backupPath(vault, generation), kind: .backup, vault: vault,
                  directories: [directory], quota: quota, freeing: freeing)
        do {
            var removed = false
            for old in try listBackups(vault: vault).dropLast(Self.keptBackups) {
                if try remove(layout.backupPath(vault, old), kind: .backup, vault: vault) { removed = true }
            }
            if removed { try Sys.syncDirectory(directory) }
        } catch {
            logger.warning("could not delete old catalog backups",
                           metadata: ["vault": "\(vault)", "error": "\(error)"])
        }
    }

    /// The buffer-pointer `putBackup` for an array: stores `bytes` as backup `generation` of `vault`.
    ///
    /// Blocking (disk I/O); thread-safe: call it from any thread, concurrently with any other call.
    ///
    /// - Throws: as the buffer-pointer variant.
    public func putBackup(vault: VaultID, generation: UInt64, bytes: [UInt8], quota: Int?) throws(StoreError) {
        try Sys.withBytes(of: bytes) { (raw) throws(StoreError) in
            try putBackup(vault: vault, generation: generation, bytes: raw, quota: quota)
        }
    }

    /// Reads catalog backup `generation` of `vault` (nil: the newest), checking header and CRC32C.
    ///
    /// Blocking (disk I/O); thread-safe: call it from any thread, concurrently with any other call.
    ///
    /// - Throws: `.backupNotFound` when there is no such generation (or, for nil, no backup at
    ///   all); `.corruptBackup` when its header or CRC32C does not match; `.io` when a read fails.
    public func getBackup(
        vault: VaultID, generation: UInt64? = nil
    ) throws(StoreError) -> (generation: UInt64, bytes: [UInt8]) {
        let chosen: UInt64
        if let generation {
            chosen = generation
        } else {
            guard let newest = try listBackups(vault: vault).last else { throw .backupNotFound(vault, generation: nil) }
            chosen = newest
        }
        switch try StoredFile.read(layout.backupPath(vault, chosen), maxPayload: Self.maxBackupSize) {
        case .missing:
            throw .backupNotFound(vault, generation: chosen)
        case .corrupt(let reason):
            logger.warning("corrupt catalog backup",
                           metadata: ["vault": "\(vault)", "generation": "\(chosen)", "reason": "\(reason)"])
            throw .corruptBackup(vault, generation: chosen)
        case .payload(let bytes):
            return (chosen, bytes)
        }
    }

    /// The catalog backup generations `vault` holds, ascending (at most `keptBackups`, more only
    /// while a put is pruning).
    ///
    /// Blocking (disk I/O); thread-safe: call it from any thread, concurrently with any other call.
    ///
    /// - Throws: `.io` when the directory cannot be listed.
    public func listBackups(vault: VaultID) throws(StoreError) -> [UInt64] {
        let entries = try Sys.listDirectory(layout.backupDirectory(vault)) ?? []
        return entries.compactMap { $0.kind == .file ? StoreLayout.generation(fromName: $0.name) : nil }.sorted()
    }
}
