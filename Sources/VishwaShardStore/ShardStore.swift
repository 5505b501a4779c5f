import Logging
import Synchronization
import VishwaCore

#if canImport(Glibc)
import Glibc
#endif

/// How much of a host's store one vault uses. Bytes are what the store charges for the files
/// (`ShardStore.charge(fileSize:)`), not bare payloads; they are what quotas are checked against.
public struct VaultUsage: Sendable, Hashable {
    /// Number of shards stored.
    public var shards: Int
    /// Number of catalog backups stored (at most `ShardStore.keptBackups`).
    public var backups: Int
    /// Bytes charged for all shards and backups (each at least `ShardStore.minimumCharge`).
    public var bytes: Int

    /// Usage with the given counts; all zero by default (a vault with nothing stored).
    public init(shards: Int = 0, backups: Int = 0, bytes: Int = 0) {
        self.shards = shards
        self.backups = backups
        self.bytes = bytes
    }
}

/// The host's on-disk store of encrypted shards and catalog backups (docs/format.md §3).
///
/// The store never sees keys: shards and backups are opaque bytes, protected on disk only by a
/// CRC32C that lets the host find bit rot. Every write is durable before it returns (temp file,
/// fsync, rename, directory fsync), so the daemon may acknowledge a PUT as soon as `put` returns.
///
/// Threads: every method blocks on disk I/O and is safe to call from many threads at once (the
/// daemon runs them on a thread pool). Writers of the same shard race safely: each writes its own
/// temp file and the last rename wins; readers see either the old or the new shard, whole.
public final class ShardStore: Sendable {
    /// The largest shard `put` accepts, 64 MiB.
    public static let maxShardSize = 64 << 20
    /// The largest catalog backup `putBackup` accepts, 256 MiB.
    public static let maxBackupSize = 256 << 20
    /// How many catalog backup generations are kept per vault; older ones are deleted.
    public static let keptBackups = 5
    /// The free space left untouched by default, 64 MiB: a put that would eat into it fails with `.diskFull`.
    public static let defaultFreeSpaceReserve = 64 << 20
    /// The least a stored file costs its vault's quota, 4 KiB: one block of the usual file systems
    /// (ext4, xfs, btrfs), which is what even a one-byte file takes on disk, plus its inode. Counting
    /// only payload bytes would let a vault fill a disk with tiny or empty shards under any quota.
    public static let minimumCharge = 4096
    /// The most shards one vault may hold by default, 10 million. Each shard is a file and an inode:
    /// this bounds what a vault without a byte quota can do to the file system's inode table. A
    /// vault stores one shard per chunk on each host (4 MiB chunks, one chunk per small file), so
    /// this is about 40 TiB of large files or 10 million small ones per host.
    public static let defaultMaxShardsPerVault = 10_000_000

    /// What a file of `fileSize` bytes (header included) costs its vault: its size, at least
    /// `minimumCharge`. Used for quotas, usage and start-up counting alike.
    public static func charge(fileSize: Int) -> Int { max(fileSize, minimumCharge) }

    /// What storing `payloadSize` bytes costs its vault (the file adds an 8-byte header).
    public static func charge(payloadSize: Int) -> Int { charge(fileSize: payloadSize + StoredFile.headerSize) }

    let layout: StoreLayout
    let logger: Logger
    let freeSpaceReserve: Int
    /// Shards one vault may hold; a put of a new shard past it fails with `.tooManyShards`.
    let maxShardsPerVault: Int
    /// False only in tests, to reach the ENOSPC path of a write instead of the statvfs check.
    let checksFreeSpace: Bool

    struct State {
        /// Usage per vault, kept equal to what is on disk.
        var usage: [VaultID: VaultUsage]
        /// Bytes that puts in flight have been granted by the quota check but not yet committed.
        var reserved: [VaultID: Int] = [:]
        /// Directories whose entry in their parent this process has fsynced (or created and fsynced).
        var durableDirectories: Set<String>
    }

    /// Guards usage accounting and the directory set. Taken inside a path lock, never around one.
    let state: Mutex<State>

    /// Striped locks keyed by file path. Each serialises "stat the file, rename over it or unlink
    /// it, update usage" for its paths, so concurrent writers and deleters of one shard keep usage
    /// exact. Held only for a stat and a rename or unlink, never for a write or fsync.
    let pathLocks: [PathLock]

    final class PathLock: Sendable {
        let mutex = Mutex(())
    }

    enum FileKind {
        case shard
        case backup
    }

    /// The store directory.
    public var directory: String { layout.root }

    /// Opens (or creates) the store in `directory`.
    ///
    /// Creates `directory`, `directory/vaults` and `directory/backups` with mode 0700 when missing,
    /// removes every `.tmp-` file an interrupted write left under them (logging how many), and
    /// walks the store once to compute each vault's usage. Blocks for that walk.
    ///
    /// - Parameter freeSpaceReserve: bytes of free space a put must leave on the file system; a put
    ///   that would leave less fails with `.diskFull`.
    /// - Parameter maxShardsPerVault: shards one vault may hold; a put of a new shard past it fails
    ///   with `.tooManyShards`.
    /// Blocking (disk I/O); thread-safe: call it from any thread, concurrently with any other call.
    ///
    /// - Throws: `StoreError.io` when a directory cannot be created, listed or synced, or a temp
    ///   file cannot be removed.
    public convenience init(
        directory: String, freeSpaceReserve: Int = ShardStore.defaultFreeSpaceReserve,
        maxShardsPerVault: Int = ShardStore.defaultMaxShardsPerVault, logger: Logger
    ) throws(StoreError) {
        try self.init(directory: directory, freeSpaceReserve: freeSpaceReserve, maxShardsPerVault: maxShardsPerVault,
                      checksFreeSpace: true, logger: logger)
    }

    init(directory: String, freeSpaceReserve: Int, maxShardsPerVault: Int = ShardStore.defaultMaxShardsPerVault,
         checksFreeSpace: Bool, logger: Logger) throws(StoreError) {
        layout = StoreLayout(root: directory)
        self.logger = logger
        self.freeSpaceReserve = max(0, freeSpaceReserve)
        self.maxShardsPerVault = max(0, maxShardsPerVault)
        self.checksFreeSpace = checksFreeSpace
        pathLocks = (0..<64).map { _ in PathLock() }

        try Self.createRoot(layout)
        let scan = try Self.scan(layout, removingTemporaries: true)
        state = Mutex(State(usage: scan.usage, durableDirectories: [layout.root, layout.vaults, layout.backups]))

        let totals = scan.usage.values.reduce(VaultUsage()) {
            VaultUsage(shards: $0.shards + $1.shards, backups: $0.backups + $1.backups, bytes: $0.bytes + $1.bytes)
        }
        if scan.temporaries > 0 {
            logger.notice("removed temp files of interrupted writes",
                          metadata: ["count": "\(scan.temporaries)", "store": "\(layout.root)"])
        }
        if scan.unrecognized > 0 {
            logger.warning("ignored entries the store did not write",
                           metadata: ["count": "\(scan.unrecognized)", "store": "\(layout.root)"])
        }
        logger.info("shard store open", metadata: [
            "store": "\(layout.root)", "vaults": "\(scan.usage.count)", "shards": "\(totals.shards)",
            "backups": "\(totals.backups)", "bytes": "\(ByteCount(totals.bytes))",
        ])
    }

    // MARK: Shards

    /// Stores `bytes` as shard `id` of `vault`, durably, replacing any shard with that id atomically.
    ///
    /// Returns only after the file and its directory entry are fsynced. `bytes` is only read during
    /// the call. `quota` (nil: unlimited) caps the vault's usage in bytes, counting shards and
    /// backups at their charge (`charge(payloadSize:)`); a replaced shard's charge is subtracted.
    ///
    /// Blocking (disk I/O); thread-safe: call it from any thread, concurrently with any other call.
    ///
    /// - Throws: `.empty` for no bytes; `.tooLarge` over `maxShardSize`; `.quotaExceeded` when the
    ///   vault would go over `quota`; `.tooManyShards` for a new shard when the vault holds
    ///   `maxShardsPerVault` already; `.diskFull` when the file system lacks room for the shard plus the free-space
    ///   reserve, or a write or fsync fails with ENOSPC or EDQUOT; `.io` for any other failed call.
    ///   On every error no temp file is left and the old shard, if any, is untouched, except when
    ///   the final directory fsync fails: the new shard is then in place but may not survive a crash.
    public func put(vault: VaultID, id: ShardID, bytes: UnsafeRawBufferPointer, quota: Int?) throws(StoreError) {
        guard bytes.count > 0 else { throw .empty(id) }
        guard bytes.count <= Self.maxShardSize else {
            throw .tooLarge(size: bytes.count, max: Self.maxShardSize)
        }
        try write(bytes, to: layout.shardPath(vault, id), kind: .shard, vault: vault,
                  directories: [layout.vaultDirectory(vault), layout.shardDirectory(vault, id)], quota: quota)
    }

    /// The buffer-pointer `put` for an array: stores `bytes` durably as shard `id` of `vault`.
    ///
    /// Blocking (disk I/O); thread-safe: call it from any thread, concurrently with any other call.
    ///
    /// - Throws: as the buffer-pointer variant.
    public func put(vault: VaultID, id: ShardID, bytes: [UInt8], quota: Int?) throws(StoreError) {
        try Sys.withBytes(of: bytes) { (raw) throws(StoreError) in
            try put(vault: vault, id: id, bytes: raw, quota: quota)
        }
    }

    /// Reads shard `id` of `vault` after checking its header and the CRC32C of the whole shard
    /// (on every call: rotted bytes are never returned); or only `range` of its bytes, checking
    /// the header but not the CRC (see `StoredFile.read(_:range:maxPayload:)`: range reads are of
    /// shards whose segments the client authenticates one by one).
    ///
    /// Blocking (disk I/O); thread-safe: call it from any thread, concurrently with any other call.
    ///
    /// - Throws: `.notFound` when there is no such shard; `.corrupt` when the header or CRC32C does
    ///   not match (logged with the reason); `.badRange` when `range` is not within the shard;
    ///   `.io` when a read fails.
    public func get(vault: VaultID, id: ShardID, range: Range<Int>? = nil) throws(StoreError) -> [UInt8] {
        let path = layout.shardPath(vault, id)
        let contents: StoredFile.Contents
        if let range {
            let (found, size) = try StoredFile.read(path, range: range, maxPayload: Self.maxShardSize)
            guard let found else { throw .badRange(id, range, size: size) }
            contents = found
        } else {
            contents = try StoredFile.read(path, maxPayload: Self.maxShardSize)
        }
        switch contents {
        case .missing:
            throw .notFound(id)
        case .corrupt(let reason):
            logger.warning("corrupt shard", metadata: ["vault": "\(vault)", "shard": "\(id)", "reason": "\(reason)"])
            throw .corrupt(id)
        case .payload(let bytes):
            return bytes
        }
    }

    /// The size in bytes of each shard in `ids` that `vault` holds, nil for each it does not (same
    /// order as `ids`). Only stats the files: no CRC check. A shard whose stat fails reads as missing.
    ///
    /// Blocking (disk I/O); thread-safe: call it from any thread, concurrently with any other call.
    public func has(vault: VaultID, ids: [ShardID]) -> [Int?] {
        ids.map { id in (try? Sys.regularFileSize(layout.shardPath(vault, id))).map(Self.payloadSize) }
    }

    /// Deletes the shards `ids` of `vault` and fsyncs the directories it removed them from;
    /// returns how many existed and were removed (ids repeated or missing count once or not at all).
    ///
    /// Blocking (disk I/O); thread-safe: call it from any thread, concurrently with any other call.
    ///
    /// - Throws: `.io` when an unlink or directory fsync fails; shards removed before the failure
    ///   stay removed and usage reflects them.
    public func delete(vault: VaultID, ids: [ShardID]) throws(StoreError) -> Int {
        var removed = 0
        var touched: Set<String> = []
        var failure: StoreError?
        for id in Set(ids) {
            do {
                if try remove(layout.shardPath(vault, id), kind: .shard, vault: vault) {
                    removed += 1
                    touched.insert(layout.shardDirectory(vault, id))
                }
            } catch {
                failure = error
                break
            }
        }
        for directory in touched.sorted() {
            do { try Sys.syncDirectory(directory) } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
        return removed
    }

    // MARK: Accounting

    /// What `vault` uses now (zero for a vault the store has never seen). Does not touch the disk.
    ///
    /// Takes only a short lock, no I/O; thread-safe.
    public func usage(vault: VaultID) -> VaultUsage {
        state.withLock { $0.usage[vault] ?? VaultUsage() }
    }

    /// The vaults that have at least one shard or backup stored, in ascending order. Does not touch the disk.
    ///
    /// Takes only a short lock, no I/O; thread-safe.
    public func vaults() -> [VaultID] {
        state.withLock { state in
            state.usage.filter { $0.value.shards > 0 || $0.value.backups > 0 }.keys.sorted()
        }
    }

    /// The size of the file system holding the store and the bytes free on it for unprivileged
    /// users (statvfs(3) `f_blocks` and `f_bavail` times `f_frsize`).
    ///
    /// Blocking (disk I/O); thread-safe: call it from any thread, concurrently with any other call.
    ///
    /// - Throws: `.io` when statvfs fails.
    public func capacity() throws(StoreError) -> (totalBytes: Int, freeBytes: Int) {
        let space = try Sys.fileSystemSpace(layout.root)
        return (space.total, space.available)
    }
}

// MARK: - Writing and removing files

extension ShardStore {
    /// The payload size of a stored file of `fileSize` bytes.
    static func payloadSize(_ fileSize: Int) -> Int { max(0, fileSize - StoredFile.headerSize) }

    /// Stores `payload` at `path` the durable way: quota and free-space checks, directories
    /// (created and their parents fsynced when new), temp file written and fsynced, renamed into
    /// place with usage updated, directory fsynced. `freeing` is what the caller will delete right
    /// after (pruned backups' charges), subtracted for the quota check.
    ///
    /// The quota is checked twice: first against what the file replaces as seen now, reserving the
    /// growth so puts writing at the same time cannot overshoot together; then exactly, under the
    /// path lock at the rename, against what it really replaces (a concurrent put or delete of the
    /// same path may have changed it meanwhile).
    func write(
        _ payload: UnsafeRawBufferPointer, to path: String, kind: FileKind, vault: VaultID,
        directories: [String], quota: Int?, freeing: Int = 0
    ) throws(StoreError) {
        let charge = Self.charge(payloadSize: payload.count)
        let replacing = try Sys.regularFileSize(path).map(Self.charge(fileSize:))
        let reservation = max(0, charge - (replacing ?? 0) - freeing)
        try state.withLock { (state) throws(StoreError) in
            try check(state, vault: vault, kind: kind, growth: reservation, new: replacing == nil, quota: quota)
            state.reserved[vault, default: 0] += reservation
        }
        var reserved = true
        defer {
            if reserved { state.withLock { $0.release(reservation, of: vault) } }
        }

        let needed = payload.count + StoredFile.headerSize + freeSpaceReserve
        if checksFreeSpace {
            let free = try Sys.fileSystemSpace(layout.root).available
            guard free >= needed else {
                logger.warning("disk full",
                               metadata: ["needed": "\(needed)", "free": "\(free)", "store": "\(layout.root)"])
                throw .diskFull(needed: needed, free: free)
            }
        }
        let directory = directories.last ?? layout.root
        do {
            try ensureDirectories(directories)
            let temporary = try StoredFile.writeTemporary(in: directory, payload: payload)
            reserved = false
            try commit(temporary, to: path, kind: kind, vault: vault, charge: charge, freeing: freeing,
                       reservation: reservation, quota: quota)
            try Sys.syncDirectory(directory)
        } catch .io(let operation, let failedPath, let code) where code == ENOSPC || code == EDQUOT {
            let free = (try? Sys.fileSystemSpace(layout.root).available) ?? 0
            logger.warning("disk full", metadata: [
                "needed": "\(needed)", "free": "\(free)", "operation": "\(operation)", "path": "\(failedPath)",
            ])
            throw .diskFull(needed: needed, free: free)
        }
    }

    /// Throws when `vault` may not grow by `growth` bytes (beyond what it uses and has reserved)
    /// or, for a `new` shard, hold one more shard.
    private func check(
        _ state: State, vault: VaultID, kind: FileKind, growth: Int, new: Bool, quota: Int?
    ) throws(StoreError) {
        let usage = state.usage[vault, default: VaultUsage()]
        if kind == .shard, new, usage.shards >= maxShardsPerVault {
            throw .tooManyShards(vault, max: maxShardsPerVault)
        }
        let needed = usage.bytes + state.reserved[vault, default: 0] + growth
        if let quota, growth > 0, needed > quota {
            throw .quotaExceeded(vault, needed: needed, quota: quota)
        }
    }

    /// Renames `temporary` over `path` and accounts for it, under the path's lock so a concurrent
    /// writer or deleter of the same path sees the same old file: the quota and shard-count check
    /// against the file really replaced, the reservation's release and the usage update happen in
    /// one step. Removes `temporary` and releases `reservation` on failure.
    private func commit(
        _ temporary: String, to path: String, kind: FileKind, vault: VaultID, charge: Int, freeing: Int,
        reservation: Int, quota: Int?
    ) throws(StoreError) {
        try lock(for: path).mutex.withLock { (_) throws(StoreError) in
            let old: Int?
            do throws(StoreError) {
                old = try Sys.regularFileSize(path).map(Self.charge(fileSize:))
            } catch {
                state.withLock { $0.release(reservation, of: vault) }
                _ = try? Sys.unlink(temporary)
                throw error
            }
            do throws(StoreError) {
                try state.withLock { (state) throws(StoreError) in
                    state.release(reservation, of: vault)
                    try check(state, vault: vault, kind: kind, growth: charge - (old ?? 0) - freeing,
                              new: old == nil, quota: quota)
                    state.usage[vault, default: VaultUsage()].add(kind, bytes: charge, replacing: old)
                }
            } catch {
                _ = try? Sys.unlink(temporary)
                throw error
            }
            do throws(StoreError) {
                try Sys.rename(temporary, to: path)
            } catch {
                _ = try? Sys.unlink(temporary)
                state.withLock { $0.usage[vault, default: VaultUsage()].undo(kind, bytes: charge, replacing: old) }
                throw error
            }
        }
    }

    /// Unlinks `path` and accounts for it; false when it was not there. The caller fsyncs the directory.
    func remove(_ path: String, kind: FileKind, vault: VaultID) throws(StoreError) -> Bool {
        try lock(for: path).mutex.withLock { (_) throws(StoreError) -> Bool in
            guard let size = try Sys.regularFileSize(path), try Sys.unlink(path) else { return false }
            state.withLock { $0.usage[vault, default: VaultUsage()].remove(kind, bytes: Self.charge(fileSize: size)) }
            return true
        }
    }

    private func lock(for path: String) -> PathLock {
        var hasher = Hasher()
        hasher.combine(path)
        return pathLocks[Int(UInt(bitPattern: hasher.finalize()) % UInt(pathLocks.count))]
    }

    /// Creates each directory in `directories` (parents first) when missing and fsyncs its parent
    /// once per process, so a file acknowledged inside it cannot lose its path in a crash. A
    /// directory another thread just created is synced here too: its creator may not have synced yet.
    private func ensureDirectories(_ directories: [String]) throws(StoreError) {
        for directory in directories {
            if state.withLock({ $0.durableDirectories.contains(directory) }) { continue }
            _ = try Sys.mkdir(directory, mode: 0o700)
            try Sys.syncDirectory(Self.parent(of: directory))
            state.withLock { _ = $0.durableDirectories.insert(directory) }
        }
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

extension ShardStore.State {
    mutating func release(_ reservation: Int, of vault: VaultID) {
        reserved[vault, default: 0] -= reservation
        if reserved[vault] == 0 { reserved[vault] = nil }
    }
}

extension VaultUsage {
    mutating func add(_ kind: ShardStore.FileKind, bytes: Int, replacing old: Int?) {
        self.bytes += bytes - (old ?? 0)
        if old == nil {
            switch kind {
            case .shard: shards += 1
            case .backup: backups += 1
            }
        }
    }

    /// Takes back an `add` whose file did not land.
    mutating func undo(_ kind: ShardStore.FileKind, bytes: Int, replacing old: Int?) {
        self.bytes -= bytes - (old ?? 0)
        if old == nil { remove(kind, bytes: 0) }
    }

    mutating func remove(_ kind: ShardStore.FileKind, bytes: Int) {
        self.bytes -= bytes
        switch kind {
        case .shard: shards -= 1
        case .backup: backups -= 1
        }
    }
}
