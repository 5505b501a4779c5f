import VishwaCatalog
import VishwaTransport
import VishwaWire

/// How one file stands: shards present per chunk, and the host losses it survives now.
public struct FileHealth: Sendable, Codable {
    public let path: String
    public let chunks: Int
    /// The fewest shards present in any chunk, and n.
    public let minShards: Int
    public let shardsPerChunk: Int
    public let needed: Int
    /// Host losses every chunk survives now (-1 when some chunk is already unreadable).
    public let toleratedHostLosses: Int
    public let state: String  // healthy, degraded, lost

    public var summary: String {
        switch state {
        case "lost": return "LOST: a chunk has \(minShards)/\(shardsPerChunk) shards, \(needed) needed"
        case "degraded": return "degraded: \(minShards)/\(shardsPerChunk) shards in the worst chunk, tolerates \(losses)"
        default: return "healthy: \(shardsPerChunk)/\(shardsPerChunk) shards per chunk, tolerates \(losses)"
        }
    }

    private var losses: String { toleratedHostLosses == 1 ? "1 host loss" : "\(toleratedHostLosses) host losses" }
}

extension VaultSession {
    /// Asks hosts which shards they hold (HAS, in batches per host) and rates each file.
    /// An unreachable host counts as holding none of its shards.
    public func health(of nodes: [Int64]) async throws -> [FileHealth] {
        let files = try nodes.map { try catalog.file(node: $0) }
        let endpoints = Dictionary(uniqueKeysWithValues: try self.endpoints().map { ($0.record.id!, $0.endpoint) })
        var wanted: [Int64: [WireShardID]] = [:]
        for file in files { for chunk in file.chunks { for shard in chunk.shards {
            wanted[shard.hostID, default: []].append(WireShardID(bytes: shard.shardID)!)
        } } }
        let present = await withTaskGroup(of: Set<WireShardID>.self) { group in
            for (hostID, ids) in wanted {
                guard let endpoint = endpoints[hostID] else { continue }
                group.addTask {
                    var found = Set<WireShardID>()
                    for start in stride(from: 0, to: ids.count, by: Request.maxBatch) {
                        let batch = Array(ids[start..<min(ids.count, start + Request.maxBatch)])
                        guard let body = try? await self.pool.send(.has(ids: batch), to: endpoint),
                              let sizes = try? HasReply.decode(body, expected: batch.count) else { return found }
                        for (id, size) in zip(batch, sizes) where size != nil { found.insert(id) }
                    }
                    return found
                }
            }
            var all = Set<WireShardID>()
            for await set in group { all.formUnion(set) }
            return all
        }
        return files.map { file in
            guard let first = file.chunks.first else {
                return FileHealth(path: file.path, chunks: 0, minShards: 0, shardsPerChunk: file.k + file.m, needed: file.k,
                                  toleratedHostLosses: file.m, state: "healthy")
            }
            var minShards = Int.max
            var tolerance = Int.max
            for chunk in file.chunks {
                var assignment = [Int64?](repeating: nil, count: chunk.k + chunk.m)
                for shard in chunk.shards where present.contains(WireShardID(bytes: shard.shardID)!) {
                    assignment[shard.index] = shard.hostID
                }
                let count = assignment.compactMap { $0 }.count
                minShards = min(minShards, count)
                tolerance = min(tolerance, count >= chunk.k ? Placer.toleratedHostLosses(k: chunk.k, assignment: assignment) : -1)
            }
            let n = first.k + first.m
            let state = minShards < first.k ? "lost" : (minShards < n ? "degraded" : "healthy")
            return FileHealth(path: file.path, chunks: file.chunks.count, minShards: minShards, shardsPerChunk: n,
                              needed: first.k, toleratedHostLosses: tolerance, state: state)
        }
    }
}
