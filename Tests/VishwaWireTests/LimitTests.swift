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
