import Synchronization

/// Which chunk of which file version: cached plaintext is only valid for exactly that version.
public struct ChunkKey: Hashable, Sendable {
    public let fileID: [UInt8]
    public let version: UInt64
    public let index: Int

    public init(fileID: [UInt8], version: UInt64, index: Int) {
        self.fileID = fileID
        self.version = version
        self.index = index
    }
}

/// The in-memory plaintext chunk cache of the mount (docs/architecture.md §4): least recently used first out,
/// bounded by bytes (`cache_size`, default 256 MiB). Plaintext lives here and nowhere on disk.
///
/// Thread-safe (one lock around a dictionary and an intrusive recency list); every operation is
/// O(1). A chunk larger than the whole budget is not cached.
public final class ChunkCache: Sendable {
    public let capacityBytes: Int

    private struct Entry {
        var bytes: [UInt8]
        var newer: ChunkKey?
        var older: ChunkKey?
    }

    private struct State {
        var entries: [ChunkKey: Entry] = [:]
        var newest: ChunkKey?
        var oldest: ChunkKey?
        var bytes = 0
        var hits = 0
        var misses = 0
    }

    private let state: Mutex<State>  // guards everything above

    public init(capacityBytes: Int) {
        precondition(capacityBytes >= 0)
        self.capacityBytes = capacityBytes
        self.state = Mutex(State())
    }

    /// The cached plaintext for `key`, marking it most recently used.
    public func get(_ key: ChunkKey) -> [UInt8]? {
        state.withLock { state in
            guard let entry = state.entries[key] else {
                state.misses += 1
                return nil
            }
            state.hits += 1
            Self.unlink(key, in: &state)
            Self.pushNewest(key, entry.bytes, in: &state)
            return entry.bytes
        }
    }

    /// Whether `key` is cached (without counting a hit or changing its recency).
    public func contains(_ key: ChunkKey) -> Bool {
        state.withLock { $0.entries[key] != nil }
    }

    /// Caches `bytes` for `key`, evicting the least recently used chunks to stay within budget.
    public func put(_ key: ChunkKey, _ bytes: [UInt8]) {
        guard bytes.count <= capacityBytes else { return }
        state.withLock { state in
            if let old = state.entries[key] {
                state.bytes -= old.bytes.count
                Self.unlink(key, in: &state)
            }
            Self.pushNewest(key, bytes, in: &state)
            state.bytes += bytes.count
            while state.bytes > capacityBytes, let oldest = state.oldest {
                state.bytes -= state.entries[oldest]?.bytes.count ?? 0
                Self.unlink(oldest, in: &state)
            }
        }
    }

    /// Drops every chunk of `fileID` (a new version was committed, or the file was removed).
    public func invalidate(fileID: [UInt8]) {
        state.withLock { state in
            for key in state.entries.keys where key.fileID == fileID {
                state.bytes -= state.entries[key]?.bytes.count ?? 0
                Self.unlink(key, in: &state)
            }
        }
    }

    /// Bytes cached now, and hits and misses so far.
    public var statistics: (bytes: Int, chunks: Int, hits: Int, misses: Int) {
        state.withLock { ($0.bytes, $0.entries.count, $0.hits, $0.misses) }
    }

    private static func pushNewest(_ key: ChunkKey, _ bytes: [UInt8], in state: inout State) {
        state.entries[key] = Entry(bytes: bytes, newer: nil, older: state.newest)
        if let newest = state.newest { state.entries[newest]?.newer = key }
        state.newest = key
        if state.oldest == nil { state.oldest = key }
    }

    /// Removes `key` from the dictionary and the recency list.
    private static func unlink(_ key: ChunkKey, in state: inout State) {
        guard let entry = state.entries.removeValue(forKey: key) else { return }
        if let newer = entry.newer { state.entries[newer]?.older = entry.older } else { state.newest = entry.older }
        if let older = entry.older { state.entries[older]?.newer = entry.newer } else { state.oldest = entry.newer }
    }
}
