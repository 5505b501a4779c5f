import TestSupport
import Testing
import VishwaClient

/// The mount's catalog backups: after a burst of changes ends, not in its middle; at most once
/// per interval; at least once per interval while changes go on; and at unmount.
@Suite(.ownThreads) struct BackupScheduleTests {
    /// The backup loop's side: a look every few seconds at the change count (a class, so that
    /// `#expect` can call it).
    final class Loop {
        var schedule: BackupSchedule
        let start = ContinuousClock.now
        init(interval seconds: Int) { schedule = BackupSchedule(interval: .seconds(seconds)) }

        func due(_ changes: Int, at second: Int, final: Bool = false) -> Bool {
            schedule.due(changes: changes, at: start + .seconds(second), final: final)
        }

        func stored(_ changes: Int) { schedule.stored(changes) }
    }

    @Test func aBurstIsBackedUpOnceItPauses() {
        let loop = Loop(interval: 60)
        #expect(!loop.due(0, at: 0))  // nothing changed yet
        #expect(!loop.due(500, at: 2))  // changing
        #expect(!loop.due(900, at: 4))  // still changing
        #expect(loop.due(900, at: 6))  // paused: back up
        loop.stored(900)
        #expect(!loop.due(900, at: 8))  // nothing new
    }

    @Test func pausesBackUpAtMostOncePerInterval() {
        let loop = Loop(interval: 60)
        _ = loop.due(1, at: 0)
        #expect(loop.due(1, at: 2))
        loop.stored(1)
        _ = loop.due(2, at: 10)
        #expect(!loop.due(2, at: 12))  // paused, but backed up 10 s ago
        #expect(!loop.due(2, at: 60))
        #expect(loop.due(2, at: 62))  // an interval after the last one
    }

    @Test func aSteadyStreamIsBackedUpOncePerInterval() {
        let loop = Loop(interval: 60)
        var backups: [Int] = []
        for second in stride(from: 0, through: 180, by: 2) where loop.due(second + 1, at: second) {
            backups.append(second)
            loop.stored(second + 1)
        }
        #expect(backups == [60, 122])  // the changes never pause
    }

    @Test func unmountBacksUpWhateverIsLeft() {
        let loop = Loop(interval: 3600)
        #expect(!loop.due(0, at: 0, final: true))
        #expect(!loop.due(3, at: 1))
        #expect(loop.due(3, at: 1, final: true))
    }

    @Test func aFailedBackupIsTriedAgainAnIntervalLater() {
        let loop = Loop(interval: 60)
        _ = loop.due(1, at: 0)
        #expect(loop.due(1, at: 2))  // attempted, never stored
        #expect(!loop.due(1, at: 30))
        #expect(loop.due(1, at: 62))
    }
}
