import Logging
import Synchronization
import VishwaClient

/// Keeps the catalog's backup on the hosts (DESIGN §6) as new as the mount's changes: the mount
/// is where most files are written, and a lost laptop must not take them along with the catalog.
/// Every two seconds it looks whether the catalog changed since the last backup; it backs up at
/// most once per `interval`, so the first change after a quiet spell is backed up within
/// seconds and a steady stream of writes costs one snapshot per interval. `finish` backs up
/// what is left when the mount stops.
final class BackupLoop: Sendable {
    let session: VaultSession
    let logger: Logger
    let interval: Duration
    private struct State {
        /// The catalog's change count when the last stored backup was taken.
        var backedUp = 0
        var lastAttempt: ContinuousClock.Instant?
    }
    private let state = Mutex(State())
    private let loop = Mutex<Repeating?>(nil)

    init(session: VaultSession, logger: Logger, interval: Duration) {
        self.session = session
        self.logger = logger
        self.interval = interval
    }

    func start() {
        loop.withLock { $0 = Repeating(every: .seconds(2)) { [self] in await round(final: false) } }
    }

    func stop() { loop.withLock { $0?.stop() } }

    /// Backs up once more if the catalog changed since the last backup.
    func finish() async { await round(final: true) }

    private func round(final: Bool) async {
        let changes = session.catalog.changeCount
        let due = state.withLock { state in
            guard state.backedUp != changes else { return false }
            if !final, let last = state.lastAttempt, ContinuousClock.now - last < interval { return false }
            state.lastAttempt = .now
            return true
        }
        guard due else { return }
        do {
            // nil: too few hosts online; it logged why, and the next round tries again.
            guard let generation = try await CatalogBackup.backup(session) else { return }
            state.withLock { $0.backedUp = max($0.backedUp, changes) }
            logger.debug("catalog backup generation \(generation) stored")
        } catch {
            logger.warning("catalog backup failed: \(error)")
        }
    }
}
