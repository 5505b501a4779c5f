import Logging
import Synchronization
import VishwaClient

/// Pings every host every 10 s (DESIGN §10): keeps `vishwa devices` current (last seen, free
/// space, which `statfs` reports) and records when a host goes away or comes back, in the log
/// and in the activity log (`vishwa log`).
final class HostMonitor: Sendable {
    let session: VaultSession
    let logger: Logger
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(session: VaultSession, logger: Logger) {
        self.session = session
        self.logger = logger
    }

    func start() {
        let session = session, logger = logger
        task.withLock {
            $0 = Task {
                var online: [String: Bool] = [:]
                while !Task.isCancelled {
                    if let statuses = try? await session.hostStatuses(timeout: .seconds(5)) {
                        for status in statuses where online[status.address] != status.online {
                            if online[status.address] != nil || !status.online {
                                let line = "host \(status.name ?? status.address) is \(status.online ? "back online" : "offline")"
                                    + (status.error.map { ": \($0)" } ?? "")
                                logger.notice("\(line)")
                                let catalog = session.catalog
                                _ = try? await session.blocking { try catalog.log("host", line) }
                            }
                            online[status.address] = status.online
                        }
                    }
                    try? await Task.sleep(for: .seconds(10))
                }
            }
        }
    }

    func stop() { task.withLock { $0?.cancel() } }
}
