import Logging
import Synchronization
import VishwaCatalog
import VishwaClient
import VishwaCore
import VishwaCrypto

/// How the mount behaves; `vishwafs -o` options set these.
public struct MountOptions: Sendable {
    public var readOnly = false
    /// The plaintext chunk cache budget (`cache_size`).
    public var cacheBytes = 256 << 20
    /// Chunks fetched ahead of a sequential reader (`readahead`).
    public var readAheadChunks = 2
    /// Dirty chunks per open file before the oldest is sealed early.
    public var maxDirtyChunks = 4
    /// Seals in flight per open file.
    public var sealWindow = 4
    public var parameters: CodingParameters = .default

    public init() {}
}

/// One open handle: the file's shared data and this handle's own read pattern.
final class Handle: Sendable {
    let node: Int64
    let file: OpenFile
    let writable: Bool
    let readAhead: Mutex<ReadAheadDetector>

    init(node: Int64, file: OpenFile, writable: Bool, readAhead: ReadAheadDetector) {
        self.node = node
        self.file = file
        self.writable = writable
        self.readAhead = Mutex(readAhead)
    }
}

/// The filesystem the mount serves (docs/architecture.md §3–4), independent of FUSE: every operation by inode
/// (the catalog's node ids), answering values or `FSError`. Files are at most
/// `FileLimits.maxFileSize` (1 PiB): a write or size past it is EFBIG; holes cost nothing. Namespace operations are one
/// catalog transaction each, run on the session's threads; file data goes through `OpenFile`.
public final class FileSystem: Sendable {
    public let session: VaultSession
    public let options: MountOptions
    public let cache: ChunkCache
    let data: DataPath
    var catalog: Catalog { session.catalog }
    var logger: Logger { session.logger }

    private struct OpenEntry {
        enum State {
            case loading(Task<OpenFile, any Error>)
            /// Loaded, so `stat` can show the live size without waiting. A created file starts
            /// here: a task only to hand back what is already made would wake a pool thread.
            case loaded(OpenFile)
        }
        var state: State
        var opens: Int

        var file: OpenFile? {
            if case .loaded(let file) = state { return file }
            return nil
        }

        func value() async throws -> OpenFile {
            switch state {
            case .loaded(let file): return file
            case .loading(let task): return try await task.value
            }
        }
    }

    private let files = Mutex<[Int64: OpenEntry]>([:])
    /// Files whose last handle closed and whose commit is still running: a new open waits for it,
    /// so it loads the version that commit makes (and never shares state being torn down).
    private let closing = Mutex<[Int64: Task<Void, Never>]>([:])
    /// Open files that lost a name while open (they may have none left).
    private let maybeNameless = Mutex<Set<Int64>>([])
    private let handles = Mutex<(next: UInt64, byID: [UInt64: Handle])>((1, [:]))
    private let directories = Mutex<(next: UInt64, byID: [UInt64: [NamedNode]?])>((1, [:]))
    /// The version whose pages the kernel may keep cached, per node (FOPEN_KEEP_CACHE).
    private let kernelCached = Mutex<[Int64: UInt64]>([:])

    public init(session: VaultSession, options: MountOptions) {
        self.session = session
        self.options = options
        self.cache = ChunkCache(capacityBytes: options.cacheBytes)
        self.data = DataPath(session: session, source: ChunkSource(session: session, cache: cache),
                             writer: ChunkWriter(session: session, parameters: options.parameters),
                             maxDirtyChunks: options.maxDirtyChunks, sealWindow: options.sealWindow)
    }

    /// Cleans up after a previous mount that stopped without closing its files: shards it
    /// stored for uncommitted versions go to the garbage queue, nameless files are deleted.
    public func recover() async throws(FSError) {
        let catalog = catalog
        let removed = try await db {
            try catalog.abandonPending()
            return try catalog.removeOrphans()
        }
        if removed > 0 { logger.info("removed \(removed) files unlinked while open before the last unmount") }
    }

    /// Runs catalog work on the session's threads, mapping its errors.
    func db<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws(FSError) -> T {
        do {
            return try await session.blocking(body)
        } catch {
            throw Self.fsError(error)
        }
    }

    /// Runs catalog work right here. Namespace operations use it: they are short local SQLite
    /// calls, made on the FUSE worker thread that asked (never on the cooperative pool), which
    /// saves two thread hops per request.
    func now<T>(_ body: () throws -> T) throws(FSError) -> T {
        do {
            return try body()
        } catch {
            throw Self.fsError(error)
        }
    }

    static func fsError(_ error: any Error) -> FSError {
        switch error {
        case let error as FSError: return error
        case CatalogError.notFound:
            return .stale  // a node's record, asked for by its id, is gone
        case let error as CatalogError:
            guard case .namespace(let namespace) = error else { return .io("\(error)") }
            switch namespace {
            case .notFound: return .notFound
            case .exists: return .exists
            case .notEmpty: return .notEmpty
            case .notDirectory: return .notDirectory
            case .isDirectory: return .isDirectory
            case .invalid: return .invalidName
            case .notPermitted: return .notPermitted
            case .noAttribute: return .noAttribute
            case .gone: return .stale
            }
        default: return .io("\(error)")
        }
    }

    func requireWritable() throws(FSError) {
        if options.readOnly { throw .readOnly }
    }

    // MARK: Attributes

    /// Attributes as `stat` shows them: an open file's size and mtime come from its open state.
    func visible(_ attributes: NodeAttributes) -> NodeAttributes {
        guard attributes.kind == .file, let file = loadedFile(attributes.id) else { return attributes }
        var shown = attributes
        let (size, mtime) = file.overlay.value
        shown.size = size
        if mtime > shown.mtime {
            shown.mtime = mtime
            shown.ctime = max(shown.ctime, mtime)
        }
        return shown
    }

    /// The node named `name` in `parent`; with a caller (a mount where the daemon checks
    /// permissions), only if it may search `parent`: checked on the same row, no second query.
    public func lookup(parent: Int64, name: String, for caller: Caller? = nil) throws(FSError) -> NodeAttributes {
        let catalog = catalog
        let (directory, node) = try now { try catalog.entry(in: parent, named: name) }
        guard directory.kind == .directory else { throw .notDirectory }
        if let caller, !directory.allows(.execute, to: caller) { throw .permissionDenied }
        guard let node else { throw .notFound }
        return visible(node)
    }

    public func attributes(of node: Int64) throws(FSError) -> NodeAttributes {
        let catalog = catalog
        do {
            let attributes = try now { try catalog.attributes(of: node) }
            loadedFile(node)?.lastKnown.withLock { $0 = attributes }
            return visible(attributes)
        } catch .stale {
            // Removed by another process while open here: like a file unlinked while open, it
            // stays readable, nameless, until its last close (its shards wait in the garbage
            // queue for gc_min_age).
            guard let file = loadedFile(node), var last = file.lastKnown.withLock({ $0 }) else { throw .stale }
            last.nlink = 0
            return visible(last)
        }
    }

    /// `setattr` of owner, permissions and times: the catalog alone.
    public func setAttributes(of node: Int64, _ changes: AttributeChanges) throws(FSError) -> NodeAttributes {
        try requireWritable()
        let catalog = catalog
        if let mtime = changes.mtime, let file = loadedFile(node) { file.overlay.setModificationTime(mtime) }
        return visible(try now { try catalog.setAttributes(node, changes) })
    }

    /// `setattr` with a size: truncates through the file's data (and commits at once when no
    /// handle is open), then applies the other changes. An mtime set on an open file (as `cp -a`
    /// does before closing) is what its commit records.
    public func setAttributes(of node: Int64, _ changes: AttributeChanges, size: Int?, handle: UInt64?) async throws(FSError)
        -> NodeAttributes
    {
        try requireWritable()
        if let size {
            guard size >= 0 else { throw .invalidName }
            guard size <= FileLimits.maxFileSize else { throw .fileTooLarge }
            try await withFile(node, handle: handle) { file throws(FSError) in
                try await file.truncate(to: size)
                if handle == nil { _ = try await file.commit() }
            }
        }
        return try setAttributes(of: node, changes)
    }

    public func readlink(_ node: Int64) throws(FSError) -> [UInt8] {
        let catalog = catalog
        return try now { try catalog.symlinkTarget(node) }
    }

    // MARK: Namespace

    /// Makes a node of any kind; `rdev` is a device node's number.
    public func make(parent: Int64, name: String, kind: NodeKind, creator: Creator, target: [UInt8]? = nil, rdev: UInt64 = 0)
        throws(FSError) -> NodeAttributes
    {
        try requireWritable()
        let catalog = catalog
        return try now { try catalog.create(parent: parent, name: name, kind: kind, creator: creator, target: target, rdev: rdev) }
    }

    public func link(_ node: Int64, parent: Int64, name: String) throws(FSError) -> NodeAttributes {
        try requireWritable()
        let catalog = catalog
        return visible(try now { try catalog.link(node: node, parent: parent, name: name) })
    }

    public func unlink(parent: Int64, name: String) throws(FSError) {
        try requireWritable()
        let catalog = catalog
        let node = try now { try catalog.unlink(parent: parent, name: name, keepIfLast: { self.isOpen($0) }) }
        forgetCached(node)
    }

    public func rmdir(parent: Int64, name: String) throws(FSError) {
        try requireWritable()
        let catalog = catalog
        try now { try catalog.rmdir(parent: parent, name: name) }
    }

    public func rename(parent: Int64, name: String, newParent: Int64, newName: String, noReplace: Bool, exchange: Bool)
        throws(FSError)
    {
        try requireWritable()
        let catalog = catalog
        try now {
            try catalog.rename(parent: parent, name: name, newParent: newParent, newName: newName, noReplace: noReplace,
                               exchange: exchange, keepIfLast: { self.isOpen($0) })
        }
    }

    // MARK: Directories

    public func openDirectory(_ node: Int64) throws(FSError) -> UInt64 {
        let attributes = try self.attributes(of: node)
        guard attributes.kind == .directory else { throw .notDirectory }
        return directories.withLock { state in
            let id = state.next
            state.next += 1
            state.byID[id] = .some(nil)
            return id
        }
    }

    /// The directory's entries, read once per open handle so offsets stay stable while it is listed.
    public func entries(_ node: Int64, handle: UInt64) throws(FSError) -> [NamedNode] {
        if let listed = directories.withLock({ $0.byID[handle] ?? nil }) { return listed }
        let catalog = catalog
        let listed = try now { try catalog.entries(of: node) }.map { NamedNode(name: $0.name, attributes: visible($0.attributes)) }
        directories.withLock { $0.byID[handle] = .some(listed) }
        return listed
    }

    /// The names in a directory, nothing else (for the kernel to forget them).
    public func names(in directory: Int64) throws(FSError) -> [String] {
        let catalog = catalog
        return try now { try catalog.entries(of: directory) }.map(\.name)
    }

    public func releaseDirectory(_ handle: UInt64) {
        _ = directories.withLock { $0.byID.removeValue(forKey: handle) }
    }

    /// The parent of a directory (for `..`).
    public func parent(of node: Int64) throws(FSError) -> Int64 {
        let catalog = catalog
        return try now { try catalog.parent(of: node) }
    }

    // MARK: Open files

    /// Opens a file; returns the handle and whether the kernel may keep its cached pages.
    public func open(_ node: Int64, writable: Bool, truncate: Bool) async throws(FSError) -> (handle: UInt64, keepCache: Bool) {
        if writable || truncate { try requireWritable() }
        let file = try await acquire(node)
        do {
            if truncate { try await file.truncate(to: 0) }
        } catch {
            await release(node)
            throw error
        }
        let (version, dirty) = await file.versionState
        let keepCache = kernelCached.withLock { cached in
            defer { cached[node] = version }
            return !dirty && cached[node] == version
        }
        let handle = Handle(node: node, file: file, writable: writable,
                            readAhead: ReadAheadDetector(chunkSize: file.chunkSize, window: options.readAheadChunks))
        return (register(handle), keepCache)
    }

    /// Creates a file and opens it. The new file's open state is made here, without reading
    /// back what was just written (creating many small files is a common load).
    public func create(parent: Int64, name: String, creator: Creator) throws(FSError) -> (NodeAttributes, UInt64) {
        let attributes = try make(parent: parent, name: name, kind: .file, creator: creator)
        let file = OpenFile(node: attributes.id, file: .empty(node: attributes.id, fileID: attributes.fileID, mtime: attributes.mtime),
                            key: nil, data: data)
        file.lastKnown.withLock { $0 = attributes }
        files.withLock { $0[attributes.id] = OpenEntry(state: .loaded(file), opens: 1) }
        kernelCached.withLock { $0[attributes.id] = 0 }
        return (attributes, register(Handle(node: attributes.id, file: file, writable: true,
                                            readAhead: ReadAheadDetector(chunkSize: file.chunkSize, window: options.readAheadChunks))))
    }

    private func register(_ handle: Handle) -> UInt64 {
        handles.withLock { state in
            let id = state.next
            state.next += 1
            state.byID[id] = handle
            return id
        }
    }

    func handle(_ id: UInt64) throws(FSError) -> Handle {
        guard let handle = handles.withLock({ $0.byID[id] }) else { throw .io("unknown file handle \(id)") }
        return handle
    }

    public func read(_ id: UInt64, offset: Int, length: Int) async throws(FSError) -> ArraySlice<UInt8> {
        let handle = try handle(id)
        let size = handle.file.overlay.value.size
        // Nothing lies past the largest file: no arithmetic on an offset near 2^63.
        guard offset >= 0, length >= 0 else { throw .invalidName }
        guard offset < min(size, FileLimits.maxFileSize) else { return [] }
        let length = min(length, FileLimits.maxFileSize - offset)
        let plan = handle.readAhead.withLock { $0.record(offset: offset, length: length, fileSize: size) }
        return try await handle.file.read(offset: offset, length: length, plan: plan)
    }

    public func write(_ id: UInt64, offset: Int, bytes: [UInt8]) async throws(FSError) -> Int {
        try requireWritable()
        let handle = try handle(id)
        guard handle.writable else { throw .permissionDenied }
        guard offset >= 0 else { throw .invalidName }
        // As a local filesystem at its limit: a write that starts past it fails, one that
        // crosses it is cut short there.
        guard offset < FileLimits.maxFileSize else { throw .fileTooLarge }
        let room = FileLimits.maxFileSize - offset
        return try await handle.file.write(bytes.count > room ? Array(bytes[..<room]) : bytes, at: offset)
    }

    /// `flush` (every close) and `fsync`: seal and commit, so an acknowledged close survives a
    /// crash of any process; `durable` (fsync) also puts the catalog on disk.
    public func flush(_ id: UInt64, durable: Bool = false) async throws(FSError) {
        let handle = try handle(id)
        if let attributes = try await handle.file.commit() {
            kernelCached.withLock { $0[handle.node] = attributes.version }
        }
        if durable { try await db { try self.catalog.sync() } }
    }

    /// Puts every catalog commit so far on disk (fsync, fsyncdir).
    public func sync() throws(FSError) {
        let catalog = catalog
        try now { try catalog.sync() }
    }

    /// Whether `flush` of this handle has anything to do (nothing written since the last commit:
    /// then the FUSE layer answers at once, without a hop).
    public func needsFlush(_ id: UInt64) -> Bool {
        (try? handle(id))?.file.overlay.changed ?? false
    }

    /// Releases a handle right here when that needs no commit and no check (the common case of
    /// a file written and flushed, or only read); false leaves everything for `release`.
    public func releaseQuickly(_ id: UInt64) -> Bool {
        guard let handle = handles.withLock({ $0.byID[id] }), !handle.file.overlay.changed else { return false }
        let node = handle.node
        if maybeNameless.withLock({ $0.contains(node) }) || closing.withLock({ $0[node] != nil }) { return false }
        let done = files.withLock { files -> Bool in
            guard var entry = files[node], entry.file === handle.file else { return false }
            entry.opens -= 1
            files[node] = entry.opens == 0 ? nil : entry
            return true
        }
        if done { _ = handles.withLock { $0.byID.removeValue(forKey: id) } }
        return done
    }

    public func release(_ id: UInt64) async {
        guard let handle = handles.withLock({ $0.byID.removeValue(forKey: id) }) else { return }
        await release(handle.node)
    }

    /// Seals and commits every open file (unmount).
    public func closeAll() async {
        for task in closing.withLock({ Array($0.values) }) { await task.value }
        let open = files.withLock { $0 }
        for (node, entry) in open {
            guard let file = try? await entry.value() else { continue }
            do {
                _ = try await file.commit()
            } catch {
                logger.error("node \(node): changes could not be committed at unmount: \(error)")
            }
        }
    }

    // MARK: The open-file registry

    /// Whether `node` is open; if so it is remembered as possibly nameless, so its last close
    /// checks whether it must be deleted.
    func isOpen(_ node: Int64) -> Bool {
        let open = files.withLock { $0[node] != nil }
        if open { _ = maybeNameless.withLock { $0.insert(node) } }
        return open
    }

    private func loadedFile(_ node: Int64) -> OpenFile? {
        // Only a file whose state is already loaded; never waits.
        files.withLock { $0[node]?.file }
    }

    private func forgetCached(_ node: Int64) {
        _ = kernelCached.withLock { $0.removeValue(forKey: node) }
    }

    /// The shared open state of `node`, loaded once however many handles open it.
    func acquire(_ node: Int64) async throws(FSError) -> OpenFile {
        let catalog = catalog, vault = session.vault, data = data
        let entry = files.withLock { files -> OpenEntry in
            if var entry = files[node] {
                entry.opens += 1
                files[node] = entry
                return entry
            }
            let previous = closing.withLock { $0[node] }
            let task = Task<OpenFile, any Error> {
                await previous?.value
                let (record, attributes) = try await data.session.blocking {
                    (try catalog.file(node: node), try catalog.attributes(of: node))
                }
                let key = record.wrappedKey.isEmpty ? nil
                    : try FileKeys.unwrap(record.wrappedKey, fileID: record.fileID, vault: vault)
                let file = OpenFile(node: node, file: record, key: key, data: data)
                file.lastKnown.withLock { $0 = attributes }
                return file
            }
            let entry = OpenEntry(state: .loading(task), opens: 1)
            files[node] = entry
            return entry
        }
        do {
            if let file = entry.file { return file }
            let file = try await entry.value()
            files.withLock { $0[node]?.state = .loaded(file) }
            return file
        } catch {
            files.withLock { files in
                if var entry = files[node] {
                    entry.opens -= 1
                    files[node] = entry.opens == 0 ? nil : entry
                }
            }
            throw Self.fsError(error)
        }
    }

    /// Drops one reference. The last one takes the file out of the registry and commits what is
    /// left (or discards a nameless file) before a new open may load it again.
    private func release(_ node: Int64) async {
        let last = files.withLock { files -> OpenEntry? in
            guard var entry = files[node] else { return nil }
            entry.opens -= 1
            if entry.opens > 0 {
                files[node] = entry
                return nil
            }
            files[node] = nil
            return entry
        }
        guard let last, let file = try? await last.value() else { return }
        let work = closing.withLock { closing -> Task<Void, Never> in
            let earlier = closing[node]
            let task = Task { await earlier?.value; await self.close(file) }
            closing[node] = task
            return task
        }
        await work.value
        closing.withLock { closing in
            if closing[node] == work { closing[node] = nil }
        }
    }

    private func close(_ file: OpenFile) async {
        let node = file.node, catalog = catalog
        let checkNames = maybeNameless.withLock { $0.remove(node) != nil }
        let named = checkNames ? ((try? await db { try catalog.hasNames(node) }) ?? true) : true
        if named {
            do {
                if let attributes = try await file.commit() { kernelCached.withLock { $0[node] = attributes.version } }
            } catch .notFound {
                // Unlinked and gone meanwhile: nothing left to keep.
            } catch {
                logger.error("node \(node): changes lost at close: \(error)")
            }
        }
        await file.discard()
        if !named {
            do { try await db { try catalog.removeOrphan(node) } } catch { logger.warning("node \(node): \(error)") }
        }
    }

    /// `withFile` runs `body` with the open state of `node`: the handle's when given, else a
    /// temporary one (as `truncate(2)` on a closed file needs).
    private func withFile(_ node: Int64, handle: UInt64?, _ body: (OpenFile) async throws(FSError) -> Void) async throws(FSError) {
        if let handle, let open = try? self.handle(handle), open.node == node {
            try await body(open.file)
            return
        }
        let file = try await acquire(node)
        do {
            try await body(file)
        } catch {
            await release(node)
            throw error
        }
        await release(node)
    }
}

