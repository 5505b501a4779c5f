import NIOCore
import NIOPosix
import Synchronization
import Testing
import VishwaCore
@testable import VishwaTransport

/// The host's per-address and per-vault limiters, driven directly.
@Suite struct LimitTests {
    @Test func anAddressGetsItsBurstThenItsRateOfConnections() {
        var limits = HostLimits()
        limits.handshakeBurstPerAddress = 4
        limits.handshakesPerSecondPerAddress = 2
        let peers = PeerLimiter(limits: limits)
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        #expect((0..<6).map { _ in peers.admit("10.0.0.1", now: start) } == [true, true, true, true, false, false])
        // Another address has its own bucket.
        #expect(peers.admit("10.0.0.2", now: start))
        // Half a second later one more; a second later two.
        #expect(peers.admit("10.0.0.1", now: start + .milliseconds(500)))
        #expect(!peers.admit("10.0.0.1", now: start + .milliseconds(500)))
        #expect(peers.admit("10.0.0.1", now: start + .milliseconds(1500)))
        #expect(peers.admit("10.0.0.1", now: start + .milliseconds(1500)))
    }

    @Test func anAddressHoldsAtMostItsConnections() {
        var limits = HostLimits()
        limits.connectionsPerAddress = 3
        let peers = PeerLimiter(limits: limits)
        let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
        #expect((0..<4).map { _ in peers.admit("10.0.0.1", now: now) } == [true, true, true, false])
        peers.release("10.0.0.1", now: now)
        #expect(peers.admit("10.0.0.1", now: now))
        #expect(!peers.admit("10.0.0.1", now: now))
    }

    @Test func aVaultRunsItsShareAndOneScrubAtATime() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        var limits = HostLimits()
        limits.inFlightPerVault = 2
        limits.scrubsPerHost = 2
        let gate = RequestGate(limits: limits)
        let a = VaultID(high: 1, low: 1), b = VaultID(high: 2, low: 2), c = VaultID(high: 3, low: 3)
        /// Whether `future` has succeeded once the loop has run everything queued so far.
        func done(_ future: EventLoopFuture<Void>) throws -> Bool {
            let finished = Flag()
            future.whenSuccess { finished.value.store(true, ordering: .relaxed) }
            try loop.submit {}.wait()
            return finished.value.load(ordering: .relaxed)
        }

        let first = gate.enter(a, scrub: false, on: loop)
        let second = gate.enter(a, scrub: false, on: loop)
        let third = gate.enter(a, scrub: false, on: loop)
        #expect(try [done(first), done(second), done(third)] == [true, true, false])
        #expect(try done(gate.enter(b, scrub: false, on: loop)))  // another vault is not held up
        gate.leave(a, scrub: false)
        #expect(try done(third))

        // Scrubs: one per vault, two per host; other requests pass waiting scrubs.
        gate.leave(a, scrub: false)
        gate.leave(a, scrub: false)
        gate.leave(b, scrub: false)
        let scrubA = gate.enter(a, scrub: true, on: loop)
        let scrubA2 = gate.enter(a, scrub: true, on: loop)
        let scrubB = gate.enter(b, scrub: true, on: loop)
        let scrubC = gate.enter(c, scrub: true, on: loop)
        #expect(try [done(scrubA), done(scrubA2), done(scrubB), done(scrubC)] == [true, false, true, false])
        #expect(try done(gate.enter(c, scrub: false, on: loop)))
        gate.leave(a, scrub: true)
        #expect(try [done(scrubA2), done(scrubC)] == [true, false])
        gate.leave(b, scrub: true)
        #expect(try done(scrubC))
    }
}

final class Flag: Sendable {
    let value = Atomic<Bool>(false)
}

/// The host's receive budget, driven directly as two connections' handlers would.
@Suite struct ReceiveBudgetUnitTests {
    /// Two frames of 24 MiB in a 40 MiB budget: the first is admitted whole, the second waits
    /// (without holding any of the budget for its body) and is woken once the first's request
    /// is answered. Neither waits on the other.
    @Test func aFrameIsAdmittedWholeAndTheNextWaitsForRoom() {
        var limits = HostLimits()
        limits.receiveBytesPerHost = 40 << 20
        let budget = ReceiveBudget(limits: limits)
        let first = ReceiveAccount(budget: budget), second = ReceiveAccount(budget: budget)
        let woken = Mutex(0)
        let wake: @Sendable () -> Void = { woken.withLock { $0 += 1 } }

        first.setBuffered(64 << 10, announced: 24 << 20)
        second.setBuffered(64 << 10, announced: 24 << 20)
        let firstReads = first.mayRead(wake: wake)
        #expect(firstReads)
        #expect(budget.used == (24 << 20) + (64 << 10))
        let secondReadsAtOnce = second.mayRead(wake: wake)
        #expect(!secondReadsAtOnce)

        // The first frame arrives whole and goes to the dispatcher: still 24 MiB held.
        first.hold(request: 24 << 20)
        first.setBuffered(0, announced: 0)
        #expect(budget.used == (24 << 20) + (64 << 10))
        let secondReadsBeside = second.mayRead(wake: wake)
        #expect(!secondReadsBeside)
        #expect(woken.withLock { $0 } >= 1)  // woken by the first's bytes going back; still no room

        first.release(request: 24 << 20)
        #expect(budget.used == 64 << 10)
        let secondReads = second.mayRead(wake: wake)
        #expect(secondReads)
        #expect(budget.used == 24 << 20)
        second.close()
        first.close()
        #expect(budget.used == 0)
    }

    /// Small frames are always read, whatever the others hold; a frame longer than a
    /// connection's share can never be held.
    @Test func smallFramesAlwaysReadAndOversizedOnesNeverFit() {
        var limits = HostLimits()
        limits.receiveBytesPerHost = 8 << 20
        let budget = ReceiveBudget(limits: limits)
        let big = ReceiveAccount(budget: budget), small = ReceiveAccount(budget: budget)
        big.setBuffered(0, announced: 8 << 20)
        let bigReads = big.mayRead(wake: {})
        #expect(bigReads)
        small.setBuffered(100, announced: 100_000)
        let smallReads = small.mayRead(wake: {})
        #expect(smallReads)
        #expect(!big.canEverHold((8 << 20) + 1))
        #expect(big.canEverHold(8 << 20))
        big.close()
        small.close()
        #expect(budget.used == 0)
    }
}
