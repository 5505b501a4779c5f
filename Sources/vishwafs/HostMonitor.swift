import Logging
import VishwaClient

/// Pings every host every 10 s (DESIGN §10): keeps `vishwa devices` current (last seen, free
/// space, which `statfs` reports) and records when a host goes away or comes back, in the log
/// and in the activity log (`vishwa log`).
enum HostMonitor {
    static func start(session: VaultSession, logger: Logger) -> Repeating {
        Repeating(every: .seconds(10), now: true, state: [String: Bool]()) { online in
            guard let statuses = try? await session.hostStatuses(timeout: .seconds(5)) else { return }
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
    }
}
