import VishwaCatalog
import VishwaTransport
import VishwaWire

#if canImport(Glibc)
import Glibc
#endif

/// `vishwa gc`: deletes from the hosts the shards no version references any more (overwritten and
/// removed files), once they have waited `minAge` in the queue. The queue is filled in the same
/// transaction that drops the last reference, so a shard a committed version needs is never in it.
public enum GarbageCollector {
    public struct Report: Sendable, Codable {
        public var deleted: Int
        public var alreadyGone: Int
        public var unreachable: Int
        public var pending: Int
    }

    public static func run(_ session: VaultSession, minAge seconds: Int64) async throws -> Report {
        let catalog = session.catalog
        let queued = try await session.blocking { () throws -> [GarbageShard] in
            // Shards of uploads killed midway: their process is gone, nothing will commit them.
            try catalog.abandonDeadUploads { pid in kill(pid, 0) == 0 || errno == EPERM }
            return try catalog.garbage(olderThan: seconds)
        }
        let hosts = Dictionary(uniqueKeysWithValues: try session.endpoints().map { ($0.record.id!, $0.endpoint) })
        var report = Report(deleted: 0, alreadyGone: 0, unreachable: 0, pending: 0)
        for (hostID, shards) in Dictionary(grouping: queued, by: \.hostID) {
            guard let endpoint = hosts[hostID] else {
                // The host was removed from the vault: nothing left to delete there.
                try catalog.forgetGarbage(shards)
                report.alreadyGone += shards.count
                continue
            }
            for start in stride(from: 0, to: shards.count, by: 10_000) {
                let batch = Array(shards[start..<min(shards.count, start + 10_000)])
                do {
                    let body = try await session.pool.send(.delete(ids: batch.map { WireShardID(bytes: $0.shardID)! }), to: endpoint)
                    let deleted = try CountReply.decode(body)
                    try catalog.forgetGarbage(batch)
                    report.deleted += deleted
                    report.alreadyGone += batch.count - deleted
                } catch {
                    session.logger.warning("gc: \(endpoint) unreachable, \(batch.count) shards stay queued: \(error)")
                    report.unreachable += batch.count
                }
            }
        }
        report.pending = try catalog.garbage(olderThan: 0).count
        if report.deleted + report.alreadyGone > 0 {
            try catalog.log("gc", "deleted \(report.deleted) shards (\(report.alreadyGone) already gone), \(report.pending) still queued")
        }
        return report
    }
}
