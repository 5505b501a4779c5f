import Logging
import Synchronization
import VishwaCatalog
import VishwaClient

/// The self-healing loop (docs/architecture.md §5): every `interval` it asks the hosts which shards they
/// still hold (HAS batches, as `vishwa fsck` does) and rebuilds the missing ones of files that
/// have stayed degraded longer than `grace` (a host that is only rebooting is not worth a
/// rebuild). One pass at a time, in the background, rebuilding at a bounded pace
/// (`heal_rate`); the mount never waits for it. Checking asks only which shards exist (no data).
final class HealLoop: Sendable {
    let session: VaultSession
    let logger: Logger
    let interval: Duration
    let grace: Duration
    /// Rebuilding pace in bytes per second (nil: as fast as it goes).
    let bytesPerSecond: Int?
    private let loop = Mutex<Repeating?>(nil)

    init(session: VaultSession, logger: Logger, interval: Duration, grace: Duration, bytesPerSecond: Int?) {
        self.session = session
        self.bytesPerSecond = bytesPerSecond
        self.logger = logger
        self.interval = interval
        self.grace = grace
    }

    func start() {
        guard interval > .zero else { return }
        loop.withLock {
            $0 = Repeating(every: interval, state: [Int64: ContinuousClock.Instant]()) { [self] degradedSince in
                do {
                    try await pass(&degradedSince)
                } catch {
                    logger.warning("self-healing pass failed: \(error)")
                }
            }
        }
    }

    func stop() { loop.withLock { $0?.stop() } }

    /// One pass: rate every file, remember since when each is degraded, repair the overdue ones.
    private func pass(_ degradedSince: inout [Int64: ContinuousClock.Instant]) async throws {
        let catalog = session.catalog
        let nodes = try await session.blocking { try catalog.files().map(\.node) }
        guard !nodes.isEmpty else { return }
        let health = try await session.health(of: nodes)
        let now = ContinuousClock.now
        var overdue: [Int64] = []
        for (node, file) in zip(nodes, health) {
            guard file.state != "healthy" else {
                degradedSince[node] = nil
                continue
            }
            let since = degradedSince[node] ?? now
            degradedSince[node] = since
            if now - since >= grace { overdue.append(node) }
        }
        degradedSince = degradedSince.filter { Set(nodes).contains($0.key) }
        guard !overdue.isEmpty else { return }
        let report = try await Fsck.run(session, nodes: overdue, deep: false, repair: true, repairBytesPerSecond: bytesPerSecond)
        for problem in report.unrepairable { logger.warning("self-healing: \(problem)") }
        // Fsck.run records the repair in the activity log (`vishwa log`).
        if report.repairedShards > 0 {
            logger.notice("self-healing: rebuilt \(report.repairedShards) shards of \(overdue.count) degraded files")
        }
    }
}
