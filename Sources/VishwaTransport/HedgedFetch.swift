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
    /// Fetches `need` acceptable shards from `candidates` (tried in order): `need` requests go out
    /// at once; if they have not all succeeded after `hedgeAfter`, `extra` more are sent (a hedged
    /// request: a slow host costs one delay, not a timeout), and the first `need` good answers win,
    /// the rest are cancelled. A shard that is missing, times out, or fails `accept` (e.g. its
    /// header) is replaced by the next candidate at once.
    ///
    /// Returns what it got — fewer than `need` when the candidates ran out — and the failures seen.
    public nonisolated func hedgedFetch(
        _ candidates: [ShardLocation], need: Int, extra: Int = 1, hedgeAfter: Duration = .milliseconds(100),
        timeout: TimeAmount = .seconds(30), accept: @escaping @Sendable (ShardLocation, ByteBuffer) -> Bool
    ) async -> (shards: [(ShardLocation, ByteBuffer)], failures: [(ShardLocation, String)]) {
        var won: [(ShardLocation, ByteBuffer)] = []
        var failures: [(ShardLocation, String)] = []
        guard need > 0 else { return (won, failures) }

        enum Event: Sendable {
            case answer(ShardLocation, Result<ByteBuffer, TransportError>)
            case hedge
        }
        await withTaskGroup(of: Event.self) { group in
            var next = 0
            func launch() {
                guard next < candidates.count else { return }
                let location = candidates[next]
                next += 1
                group.addTask {
                    do throws(TransportError) {
                        let body = try await self.send(.get(id: location.id, offset: 0, length: nil), to: location.host,
                                                       timeout: timeout)
                        return .answer(location, .success(body))
                    } catch {
                        return .answer(location, .failure(error))
                    }
                }
            }
            for _ in 0..<min(need, candidates.count) { launch() }
            if extra > 0 && next < candidates.count {
                group.addTask {
                    try? await Task.sleep(for: hedgeAfter)
                    return .hedge
                }
            }
            while let event = await group.next() {
                switch event {
                case .hedge:
                    if won.count < need { for _ in 0..<extra { launch() } }
                case .answer(let location, .success(let body)) where accept(location, body):
                    won.append((location, body))
                    if won.count == need {
                        group.cancelAll()
                        return
                    }
                case .answer(let location, .success):
                    failures.append((location, "failed its header check"))
                    launch()
                case .answer(let location, .failure(let error)):
                    failures.append((location, error.description))
                    launch()
                }
            }
        }
        return (won, failures)
    }
}
