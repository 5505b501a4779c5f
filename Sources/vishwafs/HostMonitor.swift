import Logging
import Synchronization
import VishwaClient

/// Pings every host every 30 s (DESIGN §10): keeps `vishwa devices` current (last seen, free
/// space, which `statfs` reports) and logs when a host goes away or comes back.
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
                                logger.notice("host \(status.name ?? status.address) is \(status.online ? "back online" : "offline")\(status.error.map { ": \($0)" } ?? "")")
                            }
                            online[status.address] = status.online
                        }
                    }
                    try? await Task.sleep(for: .seconds(30))
                }
            }
        }
    }

    func stop() { task.withLock { $0?.cancel() } }
}
