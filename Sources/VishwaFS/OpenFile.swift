import Logging
import Synchronization
import VishwaCatalog
import VishwaClient
import VishwaCore
import VishwaCrypto

#if canImport(Glibc)
import Glibc
#endif

/// What every open file's data path shares: the session, the chunk source (cache and fetches)
/// and the chunk writer, with the memory bounds.
struct DataPath: Sendable {
    let session: VaultSession
    let source: ChunkSource
    let writer: ChunkWriter
    /// Dirty plaintext chunks one file may hold before the oldest is sealed early.
    let maxDirtyChunks: Int
    /// Seals in flight per file; a writer past it waits (backpressure instead of unbounded memory).
    let sealWindow: Int
}

/// Size and modification time as `stat` shows them while a file is open and being written
/// (a write changes ctime too: the mtime it sets is the ctime shown).
final class Overlay: Sendable {
    private let state: Mutex<(size: Int, mtime: Int64, changed: Bool)>
    init(size: Int, mtime: Int64) { state = Mutex((size, mtime, false)) }
    var value: (size: Int, mtime: Int64) { state.withLock { ($0.size, $0.mtime) } }
    /// Whether there is anything to commit (read without waiting for the file's actor).
    var changed: Bool { state.withLock { $0.changed } }
    func set(size: Int, mtime: Int64, changed: Bool) { state.withLock { $0 = (size, mtime, changed) } }
    /// `utimens` on an open file (as `cp -a` does before closing): the mtime its commit records.
    func setModificationTime(_ mtime: Int64) { state.withLock { $0.mtime = mtime } }
}

/// The data of one open file, shared by all its handles (docs/architecture.md §3–4).
///
/// The committed version is the base. Writes go to dirty plaintext chunks in memory (never to
/// disk); a chunk that fills up is sealed (encoded and stored) in the background; `commit`
/// seals the rest and records the new version in one catalog transaction, reusing the base's
/// unchanged chunks. Reads see dirty and sealed chunks first, then the base.
///
/// Writers, truncates and commits take `lock` (they await inside); reads do not.
actor OpenFile {
    let node: Int64
    let chunkSize: Int
    nonisolated let overlay: Overlay
    /// The node's attributes as last read from the catalog: what `stat` shows of a file another
    /// process (the CLI's `rm`) removed while it is open here.
    nonisolated let lastKnown = Mutex<NodeAttributes?>(nil)
    private let data: DataPath
    /// The file's key; a new file gets one only when it is first written (it lives in locked
    /// memory, which costs system calls to set up: many empty files are created without data).
    private var keyStorage: SecretBytes?
    private var key: SecretBytes {
        if let keyStorage { return keyStorage }
        let key = FileKeys.newKey()
        keyStorage = key
        return key
    }
    private var file: FileRecord
    private var base: [Int: ChunkRecord]
    /// Bytes of the base still valid: a shrinking truncate lowers it, so old bytes never come back.
    private var baseValid: Int
    private var size: Int
    private var mtime: Int64
    private var dirty: [Int: [UInt8]] = [:]
    private var sealing: [Int: Task<ChunkRecord, any Error>] = [:]
    private var sealed: [Int: ChunkRecord] = [:]
    private var pendingVersion: UInt64?
    private var changed = false
    /// Set when a seal failed: every later flush fails until the file is closed (its unsealed
    /// data is gone; committing without it would be a silent hole).
    private var failure: String?
    private let lock = AsyncMutex()

    /// `key` nil: a new file, whose key is made on first use.
    init(node: Int64, file: FileRecord, key: SecretBytes?, data: DataPath) {
        self.node = node
        self.file = file
        self.keyStorage = key
        self.data = data
        self.chunkSize = file.chunks.isEmpty ? data.writer.parameters.chunkSize : file.chunkSize
        self.base = Dictionary(uniqueKeysWithValues: file.chunks.map { ($0.position, $0) })
        self.baseValid = file.size
        self.size = file.size
        self.mtime = file.mtime
        self.overlay = Overlay(size: file.size, mtime: file.mtime)
    }

    /// The committed version, and whether changes since are still uncommitted (one hop for `open`).
    var versionState: (committed: UInt64, changed: Bool) { (file.versionNumber, changed) }

    /// Runs `body` holding the writers' lock; see `mapped`.
    private func locked<T>(_ what: String, _ body: () async throws -> T) async throws(FSError) -> T {
        try await mapped(what) { try await lock.withLock { try await body() } }
    }

    /// `FSError`s pass through, a file gone from the catalog is `notFound`, anything else is an
    /// I/O error naming this file and what failed (for the one log line an EIO gets).
    private func mapped<T>(_ what: String, _ body: () async throws -> T) async throws(FSError) -> T {
        do {
            return try await body()
        } catch let error as FSError {
            throw error
        } catch CatalogError.namespace(.notFound), CatalogError.namespace(.gone) {
            throw .notFound
        } catch {
            throw .io("\(file.path): \(what) failed: \(error)")
        }
    }

    // MARK: Reads

    /// Bytes `offset..<offset+length` (fewer at the end of the file), fetched as `plan` says.
    func read(offset: Int, length: Int, plan: ReadPlan = .exact) async throws(FSError) -> ArraySlice<UInt8> {
        guard offset >= 0, length > 0, offset < size else { return [] }
        let end = offset + min(length, size - offset)
        for position in plan.prefetch where dirty[position] == nil && sealing[position] == nil && sealed[position] == nil {
            if let chunk = base[position], position * chunkSize < baseValid {
                data.source.prefetch(chunk, of: file, key: key)
            }
        }
        var out = [UInt8]()
        var cursor = offset
        while cursor < end {
            let position = cursor / chunkSize
            let start = position * chunkSize
            let upto = min(end, start + chunkSize)
            let bytes = try await self.bytes(of: position, from: cursor - start, to: upto - start, plan: plan)
            // Most reads lie in one chunk: its bytes go to the reply as they are, not copied
            // once more (a megabyte is a tenth of a millisecond here).
            if cursor == offset && upto == end && bytes.count == end - offset { return bytes }
            if out.isEmpty { out.reserveCapacity(end - offset) }
            out.append(contentsOf: bytes)
            if bytes.count < upto - cursor { out.append(contentsOf: repeatElement(0, count: upto - cursor - bytes.count)) }
            cursor = upto
        }
        return out[...]
    }

    /// Bytes `from..<to` of chunk `position` as the file holds them now; shorter where the rest
    /// reads as zeros. Stored chunks are fetched as `plan` says: whole (and cached) for a stream,
    /// else only from the shards that cover the range (and what `plan.extend` adds).
    private func bytes(of position: Int, from: Int, to: Int, plan: ReadPlan) async throws(FSError) -> ArraySlice<UInt8> {
        if let bytes = dirty[position] { return bytes[from..<to] }
        return try await mapped("chunk \(position)") {
            if let task = sealing[position] {
                if let version = pendingVersion,
                   let bytes = data.source.cache.get(ChunkKey(fileID: file.fileID, version: version, index: position)) {
                    return bytes[from..<min(to, bytes.count)]
                }
                return try await stored(try await task.value, from: from, to: to, plan: plan)
            }
            if let record = sealed[position] { return try await stored(record, from: from, to: to, plan: plan) }
            guard let chunk = base[position], position * chunkSize < baseValid else { return [] }
            return try await stored(chunk, from: from, to: min(to, baseValid - position * chunkSize), plan: plan)
        }
    }

    private func stored(_ chunk: ChunkRecord, from: Int, to: Int, plan: ReadPlan) async throws -> ArraySlice<UInt8> {
        let end = min(to, chunk.length)
        guard from < end else { return [] }
        if plan.wholeChunks { return try await data.source.streamed(from..<end, of: chunk, of: file, key: key) }
        return try await data.source.bytes(from..<end, of: chunk, of: file, key: key, extend: plan.extend)
    }

    // MARK: Writes

    /// Writes `bytes` at `offset`; returns when they are in memory (sealed chunks go out in the
    /// background, at most `sealWindow` at once).
    func write(_ bytes: [UInt8], at offset: Int) async throws(FSError) -> Int {
        try await locked("write") {
            if let failure { throw FSError.io(failure) }
            var cursor = 0
            while cursor < bytes.count {
                let position = (offset + cursor) / chunkSize
                let start = position * chunkSize
                let within = offset + cursor - start
                let count = min(bytes.count - cursor, chunkSize - within)
                // The chunk's current bytes matter unless this write covers all of them.
                let current = max(0, min(start + chunkSize, size) - start)
                try await materialize(position, load: !(within == 0 && count >= current))
                dirty[position]!.withUnsafeMutableBytes { target in
                    bytes.withUnsafeBytes { source in
                        target.baseAddress!.advanced(by: within)
                            .copyMemory(from: source.baseAddress!.advanced(by: cursor), byteCount: count)
                    }
                }
                cursor += count
                size = max(size, offset + cursor)
                if within + count == chunkSize { try await startSeal(position) }
            }
            touch()
            while dirty.count > data.maxDirtyChunks, let oldest = dirty.keys.min() { try await startSeal(oldest) }
            return bytes.count
        }
    }

    /// Sets the size: growing reads as zeros; shrinking drops the bytes past the end for good.
    func truncate(to newSize: Int) async throws(FSError) {
        try await locked("truncate") {
            if let failure { throw FSError.io(failure) }
            if newSize < size {
                let keep = (newSize + chunkSize - 1) / chunkSize
                for position in dirty.keys where position >= keep { dirty[position] = nil }
                for position in sealing.keys where position >= keep { await settle(position) }
                for (position, record) in sealed where position >= keep {
                    sealed[position] = nil
                    await abandon(record)
                }
                if newSize % chunkSize != 0 {
                    let position = newSize / chunkSize
                    try await materialize(position, load: true)
                    let from = newSize - position * chunkSize
                    dirty[position]!.withUnsafeMutableBytes { buffer in
                        _ = memset(buffer.baseAddress! + from, 0, chunkSize - from)
                    }
                }
                baseValid = min(baseValid, newSize)
            }
            size = newSize
            touch()
        }
    }

    private func touch() {
        changed = true
        mtime = Catalog.now()
        overlay.set(size: size, mtime: mtime, changed: true)
    }

    /// Makes chunk `position` a dirty buffer of `chunkSize` bytes: its current content when
    /// `load`, zeros otherwise. A sealed copy it replaces becomes garbage.
    private func materialize(_ position: Int, load: Bool) async throws {
        if dirty[position] != nil { return }
        if sealing[position] != nil { await settle(position) }
        if let failure { throw FSError.io(failure) }
        var buffer = [UInt8](repeating: 0, count: chunkSize)
        if let record = sealed[position] {
            if load { try await copy(data.source.plaintext(record, of: file, key: key), into: &buffer, limit: size - position * chunkSize) }
            sealed[position] = nil
            await abandon(record)
        } else if load, let chunk = base[position], position * chunkSize < baseValid {
            try await copy(data.source.plaintext(chunk, of: file, key: key), into: &buffer, limit: baseValid - position * chunkSize)
        }
        dirty[position] = buffer
    }

    private func copy(_ bytes: [UInt8], into buffer: inout [UInt8], limit: Int) {
        let count = max(0, min(bytes.count, limit, buffer.count))
        buffer.replaceSubrange(0..<count, with: bytes[0..<count])
    }

    /// Hands dirty chunk `position` to the writer in the background.
    private func startSeal(_ position: Int) async throws {
        guard let buffer = dirty[position] else { return }
        let length = min(chunkSize, size - position * chunkSize)
        guard length > 0 else {
            dirty[position] = nil
            return
        }
        let version = try await reservedVersion()
        guard dirty[position] != nil else { return }
        dirty[position] = nil
        let plain = length == chunkSize ? buffer : Array(buffer[0..<length])
        // Readable from memory while it is being stored (and after, until evicted).
        data.source.cache.put(ChunkKey(fileID: file.fileID, version: version, index: position), plain)
        let writer = data.writer, fileID = file.fileID, key = key
        sealing[position] = Task { try await writer.seal(plain, position: position, fileID: fileID, version: version, key: key) }
        while sealing.count > data.sealWindow, let oldest = sealing.keys.min() { await settle(oldest) }
    }

    /// Waits for the seal of `position` to finish and records its outcome.
    private func settle(_ position: Int) async {
        guard let task = sealing[position] else { return }
        do {
            let record = try await task.value
            if sealing[position] == task { sealed[position] = record }
        } catch {
            failure = failure ?? "\(file.path): storing chunk \(position) failed: \(error)"
            data.session.logger.error("\(failure!)")
        }
        if sealing[position] == task { sealing[position] = nil }
    }

    private func reservedVersion() async throws -> UInt64 {
        if let pendingVersion { return pendingVersion }
        let catalog = data.session.catalog, node = node
        let version = try await data.session.blocking { try catalog.reserveVersion(node) }
        pendingVersion = version
        return version
    }

    /// Sends a sealed chunk that no version will use to the garbage queue.
    private func abandon(_ record: ChunkRecord) async {
        let catalog = data.session.catalog
        let shards = record.shards.map { (shardID: $0.shardID, host: $0.hostID) }
        do {
            try await data.session.blocking { try catalog.abandonPending(shards) }
        } catch {
            data.session.logger.warning("could not queue \(shards.count) replaced shards for gc: \(error)")
        }
    }

    // MARK: Commit

    /// Seals every dirty chunk, waits for all seals, and commits the new version (docs/architecture.md §3):
    /// before it, readers see the old version whole; after it, the new one. Returns the new
    /// attributes, or nil when there was nothing to commit.
    func commit() async throws(FSError) -> NodeAttributes? {
        try await locked("commit") { () async throws -> NodeAttributes? in
            if let failure { throw FSError.io(failure) }
            guard changed else { return nil }
            let count = (size + chunkSize - 1) / chunkSize
            // Only positions that hold something are visited: a hole has no chunk, and a file
            // of one byte at 2^49 must not cost 2^27 steps.
            let held = Set(dirty.keys).union(sealing.keys).union(sealed.keys).union(base.keys).filter { $0 < count }
            for position in held.sorted() where dirty[position] == nil {
                if sealing[position] != nil { await settle(position) }
                let stored = sealed[position] != nil || (base[position] != nil && position * chunkSize < baseValid)
                if stored && reusable(position) == nil {
                    try await materialize(position, load: true)
                }
            }
            for position in dirty.keys.sorted() { try await startSeal(position) }
            for position in sealing.keys.sorted() { await settle(position) }
            if let failure { throw FSError.io(failure) }
            let chunks = Set(sealed.keys).union(base.keys).filter { $0 < count }.sorted().compactMap { reusable($0) }
            let parameters = data.writer.parameters
            let version = NewVersion(size: size, chunkSize: chunkSize, k: parameters.k, m: parameters.m,
                                     wrappedKey: FileKeys.wrap(key, fileID: file.fileID, vault: data.session.vault),
                                     chunks: chunks, degraded: chunks.contains { $0.shards.count < $0.k + $0.m })
            let number = try await reservedVersion()
            // The overlay's mtime: the last write's, or what utimens set after it.
            mtime = overlay.value.mtime
            let catalog = data.session.catalog, node = node, mtime = mtime
            let (attributes, committed) = try await data.session.blocking {
                let attributes = try catalog.commitVersion(node: node, number: number, version: version, mtime: mtime)
                return (attributes, try catalog.file(node: node))
            }
            file = committed
            base = Dictionary(uniqueKeysWithValues: committed.chunks.map { ($0.position, $0) })
            baseValid = committed.size
            sealed = [:]
            pendingVersion = nil
            changed = false
            overlay.set(size: size, mtime: mtime, changed: false)
            return attributes
        }
    }

    /// The stored chunk that holds position `position` exactly as the file has it now, if any.
    private func reusable(_ position: Int) -> ChunkRecord? {
        let length = min(chunkSize, size - position * chunkSize)
        if let record = sealed[position] { return record.length == length ? record : nil }
        if let chunk = base[position], chunk.length == length, position * chunkSize + length <= baseValid { return chunk }
        return nil
    }

    /// Drops uncommitted changes (after a failure, or when a nameless file closes): sealed
    /// chunks go to the garbage queue.
    func discard() async {
        await lock.withLock {
            for position in sealing.keys.sorted() { await settle(position) }
            for record in sealed.values { await abandon(record) }
            sealed = [:]
            dirty = [:]
            changed = false
            overlay.set(size: size, mtime: mtime, changed: false)
        }
    }
}
