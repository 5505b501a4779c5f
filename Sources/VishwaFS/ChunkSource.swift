import Logging
import Synchronization
import VishwaCatalog
import VishwaClient
import VishwaCrypto
import VishwaTransport

/// Plaintext chunks for reads: from the in-memory cache, else fetched and rebuilt from shards
/// (docs/architecture.md §4). Two readers of the same chunk share one fetch; read-ahead uses the same path.
final class ChunkSource: Sendable {
    let session: VaultSession
    let cache: ChunkCache
    private let inflight = Mutex<[ChunkKey: Task<[UInt8], any Error>]>([:])
    private let endpoints = Mutex<(hosts: [Int64: HostEndpoint], at: ContinuousClock.Instant)?>(nil)
    /// The last few spans fetched for readers that read on (`bytes(_:of:of:key:extend:)`).
    private let spans = Mutex<[Span]>([])
    static let spanLimit = 8

    /// Bytes `range` of a chunk, fetched (or being fetched) past what a read asked for.
    private struct Span: Sendable {
        let key: ChunkKey
        let range: Range<Int>
        let fetch: Task<[UInt8], any Error>

        func covers(_ wanted: Range<Int>) -> Bool {
            range.lowerBound <= wanted.lowerBound && wanted.upperBound <= range.upperBound
        }

        /// Bytes `wanted` of the chunk (within `range`), once fetched.
        func bytes(_ wanted: Range<Int>) async throws -> ArraySlice<UInt8> {
            let start = wanted.lowerBound - range.lowerBound
            return try await fetch.value[start..<start + wanted.count]
        }
    }

    /// The latest span of the chunk `key` that holds `range`.
    private func latestSpan(_ key: ChunkKey, covering range: Range<Int>, in spans: [Span]) -> Span? {
        spans.last { $0.key == key && $0.covers(range) }
    }

    init(session: VaultSession, cache: ChunkCache) {
        self.session = session
        self.cache = cache
    }

    static func key(_ chunk: ChunkRecord) -> ChunkKey {
        ChunkKey(fileID: chunk.fileID, version: chunk.encodedVersion, index: chunk.index)
    }

    /// The plaintext of `chunk` of `file`.
    func plaintext(_ chunk: ChunkRecord, of file: FileRecord, key: SecretBytes) async throws -> [UInt8] {
        let cacheKey = Self.key(chunk)
        if let bytes = cache.get(cacheKey) { return bytes }
        let task = inflight.withLock { tasks -> Task<[UInt8], any Error> in
            if let running = tasks[cacheKey] { return running }
            let task = Task { [self] in
                defer { _ = inflight.withLock { $0.removeValue(forKey: cacheKey) } }
                let hosts = try hostEndpoints()
                let bytes = try await Reader(session: session).chunk(chunk, of: file, key: key, hosts: hosts)
                cache.put(cacheKey, bytes)
                return bytes
            }
            tasks[cacheKey] = task
            return task
        }
        return try await task.value
    }

    /// Bytes `range` of `chunk`: from the cache, a fetch of the whole chunk already on its way or
    /// a span fetched before, else from just the data shards that cover them (not cached: a random
    /// reader would evict whole chunks for a few bytes each). `extend` fetches that many bytes more
    /// (within the chunk) in the same requests and keeps them as a span for the reads that follow.
    func bytes(_ range: Range<Int>, of chunk: ChunkRecord, of file: FileRecord, key: SecretBytes,
               extend: Int = 0) async throws -> ArraySlice<UInt8> {
        let cacheKey = Self.key(chunk)
        if let bytes = cache.get(cacheKey) { return bytes[range] }
        if let running = inflight.withLock({ $0[cacheKey] }) { return try await running.value[range] }
        let wanted = range.lowerBound..<max(range.upperBound, min(chunk.length, range.upperBound + extend))
        let span = spans.withLock { spans -> Span? in
            if let found = latestSpan(cacheKey, covering: range, in: spans) { return found }
            guard wanted != range else { return nil }
            // Stored before it is fetched, so the kernel's next request (often sent before this
            // one is answered) waits for this fetch instead of starting its own.
            let span = Span(key: cacheKey, range: wanted, fetch: Task { [self] in
                try await Reader(session: session).range(wanted, of: chunk, of: file, key: key, hosts: try hostEndpoints())
            })
            spans.append(span)
            if spans.count > Self.spanLimit { spans.removeFirst() }
            return span
        }
        guard let span else {
            return ArraySlice(try await Reader(session: session).range(range, of: chunk, of: file, key: key, hosts: try hostEndpoints()))
        }
        do {
            return try await span.bytes(range)
        } catch {
            spans.withLock { $0.removeAll { $0.key == span.key && $0.range == span.range } }
            throw error
        }
    }

    /// Bytes `range` of `chunk` for a streaming reader: the whole chunk is fetched and cached; a
    /// span already fetched or on its way answers meanwhile, so the switch to whole chunks never
    /// makes a read wait for more than it asked.
    func streamed(_ range: Range<Int>, of chunk: ChunkRecord, of file: FileRecord, key: SecretBytes) async throws -> ArraySlice<UInt8> {
        let cacheKey = Self.key(chunk)
        if let bytes = cache.get(cacheKey) { return bytes[range] }
        if let span = spans.withLock({ latestSpan(cacheKey, covering: range, in: $0) }) {
            prefetch(chunk, of: file, key: key)
            if let bytes = try? await span.bytes(range) { return bytes }
        }
        return try await plaintext(chunk, of: file, key: key)[range]
    }

    /// Starts fetching `chunk` into the cache unless it is there or on its way.
    func prefetch(_ chunk: ChunkRecord, of file: FileRecord, key: SecretBytes) {
        let cacheKey = Self.key(chunk)
        if cache.contains(cacheKey) || inflight.withLock({ $0[cacheKey] != nil }) { return }
        Task { [self] in
            do {
                _ = try await plaintext(chunk, of: file, key: key)
            } catch {
                session.logger.debug("read-ahead of chunk \(chunk.position) of \(file.path) failed: \(error)")
            }
        }
    }

    /// Host endpoints by catalog id, re-read at most every few seconds (hosts rarely change).
    private func hostEndpoints() throws -> [Int64: HostEndpoint] {
        let now = ContinuousClock.now
        if let cached = endpoints.withLock({ $0 }), now - cached.at < .seconds(5) { return cached.hosts }
        let hosts = Dictionary(uniqueKeysWithValues: try session.endpoints().map { ($0.record.id!, $0.endpoint) })
        endpoints.withLock { $0 = (hosts, now) }
        return hosts
    }
}
