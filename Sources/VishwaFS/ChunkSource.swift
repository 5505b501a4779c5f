import Logging
import Synchronization
import VishwaCatalog
import VishwaClient
import VishwaCrypto
import VishwaTransport

/// Plaintext chunks for reads: from the in-memory cache, else fetched and rebuilt from shards
/// (DESIGN §4). Two readers of the same chunk share one fetch; read-ahead uses the same path.
final class ChunkSource: Sendable {
    let session: VaultSession
    let cache: ChunkCache
    private let inflight = Mutex<[ChunkKey: Task<[UInt8], any Error>]>([:])
    private let endpoints = Mutex<(hosts: [Int64: HostEndpoint], at: ContinuousClock.Instant)?>(nil)

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

    /// Bytes `range` of `chunk`: from the cache or a fetch of the whole chunk already on its way,
    /// else from just the data shards that cover them (not cached: a random reader would evict
    /// whole chunks for a few bytes each).
    func bytes(_ range: Range<Int>, of chunk: ChunkRecord, of file: FileRecord, key: SecretBytes) async throws -> [UInt8] {
        let cacheKey = Self.key(chunk)
        if let bytes = cache.get(cacheKey) { return Array(bytes[range]) }
        if let running = inflight.withLock({ $0[cacheKey] }) { return Array(try await running.value[range]) }
        return try await Reader(session: session).range(range, of: chunk, of: file, key: key, hosts: try hostEndpoints())
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
