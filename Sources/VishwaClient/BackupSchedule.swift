/// When the mount backs the catalog up (docs/format.md §5), from the catalog's change count as seen every
/// few seconds: once the changes pause (a look that finds no new change), at most once per
/// `interval`; and in any case once the oldest change not backed up is `interval` old. A burst of
/// work (a `cp -r`, a `git checkout`) is so backed up once, just after it ends, rather than in
/// its middle; a steady stream of writes costs one backup per interval.
public struct BackupSchedule: Sendable {
    public let interval: Duration
    /// The change count the last stored backup holds.
    private var backedUp = 0
    private var lastAttempt: ContinuousClock.Instant?
    /// The change count the previous look saw, and since when changes are waiting.
    private var seen = 0
    private var waitingSince: ContinuousClock.Instant?

    public init(interval: Duration) { self.interval = interval }

    /// Whether to back up now, with the catalog at `changes`; `final` (at unmount): whenever
    /// anything is not backed up. A true answer counts as an attempt.
    public mutating func due(changes: Int, at now: ContinuousClock.Instant, final: Bool) -> Bool {
        defer { seen = changes }
        guard backedUp != changes else {
            waitingSince = nil
            return false
        }
        let waiting = waitingSince ?? now
        waitingSince = waiting
        let paused = changes == seen && (lastAttempt.map { now - $0 >= interval } ?? true)
        guard final || paused || now - waiting >= interval else { return false }
        lastAttempt = now
        waitingSince = nil
        return true
    }

    /// A backup holding the catalog at `changes` is stored.
    public mutating func stored(_ changes: Int) { backedUp = max(backedUp, changes) }
}
