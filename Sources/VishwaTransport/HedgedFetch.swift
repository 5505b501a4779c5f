import NIOCore
import VishwaWire

/// Where one shard of a chunk lives.
public struct ShardLocation: Sendable, Hashable {
    /// The shard's index within its chunk (0..<n).
    public let index: Int
    public let id: WireShardID
    public let host: HostEndpoint

    public init(index: Int, id: WireShardID, host: HostEndpoint) {
        self.index = index
        self.id = id
        self.host = host
    }
}

extension HostPool {
    /// Fetches `need` acceptable shards from `candidates` (tried in order), keeping `need + extra`
    /// requests in flight: the first `need` that arrive and pass `accept` win, the rest are
    /// cancelled. A shard that is missing, slow past `timeout`, or fails `accept` (e.g. its
    /// authentication tag) is replaced by the next candidate.
    ///
    /// Returns what it got — fewer than `need` when the candidates ran out — with the failures seen.
    public nonisolated func hedgedFetch(
        _ candidates: [ShardLocation], need: Int, extra: Int = 1, timeout: TimeAmount = .seconds(30),
        accept: @escaping @Sendable (ShardLocation, ByteBuffer) -> Bool
    ) async -> (shards: [(ShardLocation, ByteBuffer)], failures: [(ShardLocation, String)]) {
        var won: [(ShardLocation, ByteBuffer)] = []
        var failures: [(ShardLocation, String)] = []
        guard need > 0 else { return (won, failures) }
        await withTaskGroup(of: (ShardLocation, Result<ByteBuffer, TransportError>).self) { group in
            var next = 0
            func launch() {
                guard next < candidates.count else { return }
                let location = candidates[next]
                next += 1
                group.addTask {
                    do throws(TransportError) {
                        let body = try await self.send(.get(id: location.id, offset: 0, length: nil), to: location.host,
                                                       timeout: timeout)
                        return (location, .success(body))
                    } catch {
                        return (location, .failure(error))
                    }
                }
            }
            for _ in 0..<min(need + extra, candidates.count) { launch() }
            while let (location, result) = await group.next() {
                switch result {
                case .success(let body) where accept(location, body):
                    won.append((location, body))
                    if won.count == need {
                        group.cancelAll()
                        return
                    }
                case .success:
                    failures.append((location, "failed authentication"))
                    launch()
                case .failure(let error):
                    failures.append((location, error.description))
                    launch()
                }
            }
        }
        return (won, failures)
    }
}
