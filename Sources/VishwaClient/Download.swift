import Foundation
import NIOCore
import Synchronization
import VishwaCatalog
import VishwaCodec
import VishwaCore
import VishwaCrypto
import VishwaTransport
import VishwaWire

#if canImport(Glibc)
import Glibc
#endif

/// Reads files back: fetches, for each chunk, the data shards first (no decoding needed), one
/// extra as a hedge, and more whenever a shard is missing, slow or fails authentication.
public struct Reader: Sendable {
    public let session: VaultSession
    public var window = 8

    public init(session: VaultSession) { self.session = session }

    /// The plaintext of one chunk of `file`.
    public func chunk(_ chunk: ChunkRecord, of file: FileRecord, key: SecretBytes, hosts: [Int64: HostEndpoint]) async throws -> [UInt8] {
        let parameters = try CodingParameters(k: chunk.k, m: chunk.m, chunkSize: max(file.chunkSize, chunk.length, 1))
        let codec = ShardCodec(parameters: parameters)
        let context = chunk.shardContext(vault: session.vault.identity.vaultID)
        var remaining: [ShardLocation] = chunk.shards.sorted { $0.index < $1.index }.compactMap { shard in
            guard let host = hosts[shard.hostID] else { return nil }
            return ShardLocation(index: shard.index, id: WireShardID(bytes: shard.shardID)!, host: host)
        }
        var got: [Int: ByteBuffer] = [:]
        var problems: [String] = []
        while true {
            let need = chunk.k - got.count
            if need > 0 {
                guard !remaining.isEmpty else { break }
                let fetched = await session.pool.hedgedFetch(remaining, need: need, extra: got.isEmpty ? 1 : 0) { location, body in
                    // Cheap sanity before decoding: the shard claims the index it was stored under.
                    body.withUnsafeReadableBytes { ShardHeader(parsing: $0)?.index == location.index }
                }
                let tried = Set(fetched.shards.map(\.0) + fetched.failures.map(\.0))
                remaining.removeAll { tried.contains($0) }
                for (location, body) in fetched.shards { got[location.index] = body }
                problems += fetched.failures.map { "shard \($0.0.index) on \($0.0.host): \($0.1)" }
                if fetched.shards.isEmpty && fetched.failures.isEmpty { break }
            }
            if got.count < chunk.k { continue }
            let buffers = got.sorted { $0.key < $1.key }.map(\.value)
            let codecContext = context
            do {
                let decoded = try await session.blocking { try codec.decode(buffers, context: codecContext, key: key) }
                if !decoded.rejected.isEmpty {
                    session.logger.warning("chunk \(chunk.position) of \(file.path): \(decoded.rejected.map { $0.description }.joined(separator: ", "))")
                }
                return decoded.plaintext
            } catch let error as CodecError {
                guard case .notEnoughShards(_, _, let rejected) = error else { throw error }
                for rejection in rejected {
                    if let index = rejection.index { got[index] = nil }
                    problems.append("shard \(rejection.index.map(String.init) ?? "?") \(rejection.reason)")
                }
                if remaining.isEmpty { break }
            }
        }
        let reasons = problems.isEmpty ? "" : " (" + problems.prefix(6).joined(separator: "; ") + ")"
        throw ClientError.unreadable("cannot read \(file.path): chunk \(chunk.position) has only \(got.count) good shards of the \(chunk.k) needed\(reasons)")
    }

    /// Bytes `range` of a chunk from just the data shards that cover them (docs/architecture.md §4: a small
    /// read fetches and decrypts one or two segments of one or two shards, not the chunk). When
    /// one of them is missing, slow or fails authentication, the same segments of any k shards
    /// rebuild the range; only if that fails too is the whole chunk rebuilt.
    public func range(_ range: Range<Int>, of chunk: ChunkRecord, of file: FileRecord, key: SecretBytes,
                      hosts: [Int64: HostEndpoint]) async throws -> [UInt8] {
        let parameters = try CodingParameters(k: chunk.k, m: chunk.m, chunkSize: max(file.chunkSize, chunk.length, 1))
        let codec = ShardCodec(parameters: parameters)
        let context = chunk.shardContext(vault: session.vault.identity.vaultID)
        let located = { (index: Int) -> ShardLocation? in
            guard let shard = chunk.shards.first(where: { $0.index == index }), let host = hosts[shard.hostID] else { return nil }
            return ShardLocation(index: index, id: WireShardID(bytes: shard.shardID)!, host: host)
        }
        let plan = codec.fetchPlan(offset: range.lowerBound, length: range.count, chunkLength: chunk.length)
        let locations = plan.compactMap { index, bytes in located(index).map { ($0, bytes) } }
        if locations.count == plan.count {
            do {
                let parts = try await withThrowingTaskGroup(of: ShardPart<ByteBuffer>.self) { group in
                    for (location, bytes) in locations { group.addTask { try await fetchPart(location, bytes) } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                return try Self.decode(range, of: chunk, from: parts, codec: codec, context: context, key: key)
            } catch {
                // Routine while a host is down (every such read comes here): not worth a warning each time.
                session.logger.debug("chunk \(chunk.position) of \(file.path): \(error); rebuilding the range from any \(chunk.k) shards")
            }
        }
        do {
            let span = codec.degradedPlan(offset: range.lowerBound, length: range.count, chunkLength: chunk.length).bytes
            let candidates = (0..<parameters.n).compactMap(located)
            let parts = await fetchParts(candidates, bytes: span, need: chunk.k)
            return try codec.decodeRange(offset: range.lowerBound, length: range.count, rebuildingFrom: parts, context: context, key: key)
        } catch {
            session.logger.warning("chunk \(chunk.position) of \(file.path): \(error); rebuilding the whole chunk")
        }
        let whole = try await self.chunk(chunk, of: file, key: key, hosts: hosts)
        return Array(whole[range])
    }

    /// Decrypts bytes `range` of a chunk from the parts of the data shards that cover it, straight
    /// into the array returned; the pieces of two or more shards on the cores at once.
    private static func decode(_ range: Range<Int>, of chunk: ChunkRecord, from parts: [ShardPart<ByteBuffer>],
                               codec: ShardCodec, context: ShardContext, key: SecretBytes) throws -> [UInt8] {
        let piece = codec.parameters.pieceLength(forChunkLength: chunk.length)
        let pieces = codec.dataShards(coveringOffset: range.lowerBound, length: range.count, chunkLength: chunk.length)
        let failures = Mutex<[CodecError]>([])
        let plain = [UInt8](unsafeUninitializedCapacity: range.count) { out, initialized in
            // One piece per iteration; each writes only its own bytes of `output`, and all are done
            // before the array is: sharing the pointer is safe.
            nonisolated(unsafe) let output = UnsafeMutableRawBufferPointer(out)
            DispatchQueue.concurrentPerform(iterations: pieces.count) { i in
                let index = pieces.lowerBound + i
                let covered = max(range.lowerBound, index * piece)..<min(range.upperBound, (index + 1) * piece)
                let at = covered.lowerBound - range.lowerBound
                do throws(CodecError) {
                    try codec.decodeRange(offset: covered.lowerBound, length: covered.count, from: parts, context: context,
                                          key: key, into: UnsafeMutableRawBufferPointer(rebasing: output[at..<at + covered.count]))
                } catch {
                    failures.withLock { $0.append(error) }
                }
            }
            initialized = range.count
        }
        if let failure = failures.withLock({ $0.first }) { throw failure }
        return plain
    }

    /// Bytes `bytes` and the header of one shard, asked at once (two requests on its host's
    /// connection). A shard written in format 1 is fetched whole: it has no segments. A short
    /// timeout: the caller falls back to a hedged rebuild.
    private func fetchPart(_ location: ShardLocation, _ bytes: Range<Int>) async throws -> ShardPart<ByteBuffer> {
        let pool = session.pool
        async let header = pool.send(.get(id: location.id, offset: 0, length: UInt64(ShardFormat.headerLength)),
                                     to: location.host, timeout: .seconds(2))
        async let body = pool.send(.get(id: location.id, offset: UInt64(bytes.lowerBound), length: UInt64(bytes.count)),
                                   to: location.host, timeout: .seconds(2))
        let headerBytes = try await header
        let version = headerBytes.withUnsafeReadableBytes { ShardHeader(parsing: $0)?.formatVersion }
        if version == 1 {
            return ShardPart(whole: try await pool.send(.get(id: location.id, offset: 0, length: nil), to: location.host))
        }
        return ShardPart(header: headerBytes, body: try await body, offset: bytes.lowerBound)
    }

    /// The same bytes of `need` shards among `candidates`, tried in order: `need` at once, the next
    /// candidate for each that fails. Fewer when the candidates run out.
    private func fetchParts(_ candidates: [ShardLocation], bytes: Range<Int>, need: Int) async -> [ShardPart<ByteBuffer>] {
        await withTaskGroup(of: ShardPart<ByteBuffer>?.self) { group in
            var next = 0
            func launch() {
                guard next < candidates.count else { return }
                let location = candidates[next]
                next += 1
                group.addTask { try? await fetchPart(location, bytes) }
            }
            for _ in 0..<need { launch() }
            var parts: [ShardPart<ByteBuffer>] = []
            while let part = await group.next() {
                guard let part else {
                    launch()
                    continue
                }
                parts.append(part)
                if parts.count == need {
                    group.cancelAll()
                    break
                }
            }
            return parts
        }
    }

    /// Writes the current version of `node` to `outPath`, through a temp file beside it renamed
    /// at the end (so `outPath` is never half-written).
    public func download(
        node: Int64, to outPath: String, progress: @escaping @Sendable (TransferProgress) -> Void = { _ in }
    ) async throws -> FileRecord {
        let start = ContinuousClock.now
        let catalog = session.catalog
        let file = try await session.blocking { try catalog.file(node: node) }
        let key = file.wrappedKey.isEmpty ? FileKeys.newKey()
            : try FileKeys.unwrap(file.wrappedKey, fileID: file.fileID, vault: session.vault)
        let hosts = Dictionary(uniqueKeysWithValues: try session.endpoints().map { ($0.record.id!, $0.endpoint) })
        let temp = outPath + ".vishwa-part-\(UInt32.random(in: 0...UInt32.max))"
        let output = try LocalFile.create(temp)
        do {
            try output.truncate(to: file.size)
            var done = 0
            let chunks = file.chunks
            // Each chunk is advised out of the page cache twice: at once, which starts its
            // writeback, and 2×window chunks later, when it is (mostly) on disk and its pages can
            // go: the next writes then reuse them, and a large download does not fill memory with
            // a file the user has not opened yet.
            var written: [Int] = []
            try await withThrowingTaskGroup(of: Int.self) { group in
                var next = 0
                func launch() {
                    let index = next, chunk = chunks[next]
                    next += 1
                    group.addTask {
                        let plain = try await self.chunk(chunk, of: file, key: key, hosts: hosts)
                        try await session.blocking {
                            try output.write(plain, at: chunk.position * file.chunkSize)
                            output.dropCache(at: chunk.position * file.chunkSize, count: plain.count)
                        }
                        return index
                    }
                }
                for _ in 0..<min(window, chunks.count) { launch() }
                var bytes = 0
                while let index = try await group.next() {
                    done += 1
                    bytes += chunks[index].length
                    written.append(index)
                    if written.count > 2 * window {
                        let settled = chunks[written.removeFirst()]
                        output.dropCache(at: settled.position * file.chunkSize, count: settled.length)
                    }
                    progress(TransferProgress(chunksDone: done, chunkCount: chunks.count, bytesDone: bytes,
                                              totalBytes: file.size, elapsedSeconds: (ContinuousClock.now - start).seconds))
                    if next < chunks.count { launch() }
                }
            }
            try await session.blocking {
                // The mode any program writing a new file would give it (the umask applies).
                guard fchmod(output.fd, LocalFile.modeForNewFiles()) == 0 else {
                    throw ClientError.cannotWrite(path: temp, reason: String(cString: strerror(errno)))
                }
                try output.sync()
                guard rename(temp, outPath) == 0 else {
                    throw ClientError.cannotWrite(path: outPath, reason: String(cString: strerror(errno)))
                }
            }
            return file
        } catch {
            unlink(temp)
            throw error
        }
    }
}

/// Shards arrive from hosts in NIO buffers; the codec reads them where they are.
extension ByteBuffer: ShardBytes {
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeReadableBytes(body)
    }
}
