import Logging
import Synchronization
import VishwaClient

/// Gives the hosts back the space of removed and overwritten files without anyone running
/// `vishwa gc`: every `interval` it deletes the shards that have waited `minAge` in the garbage
/// queue. The wait is for other readers of an old version (a `vishwa download` that began before
/// the file was replaced, a catalog restored from a slightly older backup); this mount's own
/// readers never need a shard once it is queued. Hosts that are offline keep theirs queued for
/// the next pass.
final class GarbageLoop: Sendable {
    let session: VaultSession
    let logger: Logger
    let interval: Duration
    let minAge: Int64
    private let loop = Mutex<Repeating?>(nil)

    init(session: VaultSession, logger: Logger, interval: Duration, minAgeSeconds: Int64) {
        self.session = session
        self.logger = logger
        self.interval = interval
        minAge = minAgeSeconds
    }

    func start() {
        guard interval > .zero else { return }
        loop.withLock { $0 = Repeating(every: interval) { [self] in await pass() } }
    }

    func stop() { loop.withLock { $0?.stop() } }

    private func pass() async {
        do {
            let report = try await GarbageCollector.run(session, minAge: minAge)
            if report.deleted + report.alreadyGone > 0 {
                logger.info("gc: deleted \(report.deleted) shards from the hosts, \(report.pending) still queued")
            }
        } catch {
            logger.warning("gc pass failed: \(error)")
        }
    }
}
