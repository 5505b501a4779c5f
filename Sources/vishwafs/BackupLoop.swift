import Logging
import Synchronization
import VishwaClient

/// Keeps the catalog's backup on the hosts (docs/format.md §5) as new as the mount's changes: the mount
/// is where most files are written, and a lost laptop must not take them along with the catalog.
/// Every two seconds it looks at the catalog's change count and backs up when `BackupSchedule`
/// says so; `finish` backs up what is left when the mount stops.
final class BackupLoop: Sendable {
    let session: VaultSession
    let logger: Logger
    private let schedule: Mutex<BackupSchedule>
    private let loop = Mutex<Repeating?>(nil)

    init(session: VaultSession, logger: Logger, interval: Duration) {
        self.session = session
        self.logger = logger
        schedule = Mutex(BackupSchedule(interval: interval))
    }

    func start() {
        loop.withLock { $0 = Repeating(every: .seconds(2)) { [self] in await round(final: false) } }
    }

    func stop() { loop.withLock { $0?.stop() } }

    /// Backs up once more if the catalog changed since the last backup.
    func finish() async { await round(final: true) }

    private func round(final: Bool) async {
        let changes = session.catalog.changeCount
        let due = schedule.withLock { $0.due(changes: changes, at: .now, final: final) }
        guard due else { return }
        do {
            // nil: too few hosts online; it logged why, and the next round tries again.
            guard let generation = try await CatalogBackup.backup(session) else { return }
            schedule.withLock { $0.stored(changes) }
            logger.debug("catalog backup generation \(generation) stored")
        } catch {
            logger.warning("catalog backup failed: \(error)")
        }
    }
}
