import Synchronization

/// A background job of the mount that runs every `interval` until stopped: host pings,
/// self-healing passes, catalog checkpoints. `state` carries what one round leaves the next.
final class Repeating: Sendable {
    private let task = Mutex<Task<Void, Never>?>(nil)

    /// Starts at once; the first round runs after one `interval` (or right away with `now`).
    init<State: Sendable>(every interval: Duration, now: Bool = false, state: State,
                          _ round: @escaping @Sendable (inout State) async -> Void) {
        task.withLock {
            $0 = Task {
                var state = state
                if !now { try? await Task.sleep(for: interval) }
                while !Task.isCancelled {
                    await round(&state)
                    try? await Task.sleep(for: interval)
                }
            }
        }
    }

    convenience init(every interval: Duration, now: Bool = false, _ round: @escaping @Sendable () async -> Void) {
        self.init(every: interval, now: now, state: ()) { _ in await round() }
    }

    func stop() { task.withLock { $0?.cancel() } }
}
