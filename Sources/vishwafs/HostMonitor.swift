import Logging
import VishwaClient

/// Pings every host every 10 s (docs/architecture.md §5): keeps `vishwa devices` current (last seen, free
/// space, which `statfs` reports) and records when a host goes away or comes back, or turns
/// faulty (answers that make no sense, whose space is then not counted), in the log and in the
/// activity log (`vishwa log`).
enum HostMonitor {
    struct Seen: Sendable {
        var online: [String: Bool] = [:]
        var faults: [String: String] = [:]
    }

    static func start(session: VaultSession, logger: Logger) -> Repeating {
        Repeating(every: .seconds(10), now: true, state: Seen()) { seen in
            guard let statuses = try? await session.hostStatuses(timeout: .seconds(5)) else { return }
            for status in statuses {
                let name = status.name ?? status.address
                if seen.online[status.address] != status.online {
                    if seen.online[status.address] != nil || !status.online {
                        await record("host \(name) is \(status.online ? "back online" : "offline")" + (status.error.map { ": \($0)" } ?? ""),
                                     session: session, logger: logger)
                    }
                    seen.online[status.address] = status.online
                }
                guard status.online, seen.faults[status.address] != status.faulty else { continue }
                if let fault = status.faulty {
                    await record("host \(name) is faulty: \(fault)", session: session, logger: logger)
                } else {
                    await record("host \(name) answers sensibly again", session: session, logger: logger)
                }
                seen.faults[status.address] = status.faulty
            }
        }
    }

    private static func record(_ line: String, session: VaultSession, logger: Logger) async {
        logger.notice("\(line)")
        let catalog = session.catalog
        _ = try? await session.blocking { try catalog.log("host", line) }
    }
}
