import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import VishwaCore
import VishwaWire

/// How much of a host one peer may use: connections and handshakes per address, requests and
/// answer bytes per connection, requests per vault (docs/wire.md §2–3). A peer past a limit is
/// slowed down (its requests wait, its socket is not read) or, before it has a session, closed.
public struct HostLimits: Sendable, Equatable {
    /// Open connections from one IP address. A household behind one NAT address runs a few
    /// devices with one connection to this host each; 32 leaves room for that and for
    /// reconnects, while a flood of idle sockets from one address stops there.
    public var connectionsPerAddress = 32
    /// Connections (so handshakes, each a few X25519 operations and a registry read) one address
    /// may start in a burst, and how many more per second after that. A device connects once per
    /// mount or command, and again after a failure; 30 at once and 5 a second is far more.
    public var handshakeBurstPerAddress = 30
    public var handshakesPerSecondPerAddress = 5
    /// Requests of one connection running at once; more are queued, and past that the socket is
    /// not read (TCP back-pressure). 64 keeps a fast link busy with 700 KiB shards.
    public var inFlightPerConnection = 64
    /// Answer bytes of one connection written but not yet taken by the socket. Past this no queued
    /// request is started: a peer that does not read its answers stops getting more, and its
    /// socket is not read either. 8 MiB is about ten shards, enough to keep a fast link full.
    public var pendingAnswerBytesPerConnection = 8 << 20
    /// Requests of one vault running at once, over all its connections: the answers held in memory
    /// for one vault are bounded by this many times the largest answer (a shard), whatever the
    /// number of connections. The disk pool runs 16 at a time; 32 keeps it busy with one vault.
    public var inFlightPerVault = 32
    /// SCRUBs running at once on the whole host; a vault runs at most one at a time. Each reads a
    /// whole vault from disk on a pool thread, so a few are enough to starve everything else.
    public var scrubsPerHost = 2
    /// Bytes of requests the whole host holds at once, over all connections: frames still
    /// arriving and requests received but not yet answered (`ReceiveBudget`). At the total, no
    /// connection holding `receiveBytesAlwaysRead` or more is read until requests finish. A few
    /// 64 MiB PUTs at once, or hundreds of shards.
    public var receiveBytesPerHost = 256 << 20
    /// The part of that total one connection may hold: the largest frame (a 64 MiB PUT, or a
    /// catalog backup) and room for the next one to start arriving. A frame or clear record
    /// announced longer than this (or than the host's total) can never be held and closes the
    /// connection.
    public var receiveBytesPerConnection = Frame.maxBodyLength + (1 << 20)
    /// A connection holding fewer bytes than this is always read, whatever the others hold, so
    /// pings, lists and shard-sized requests keep flowing while large frames wait.
    public static let receiveBytesAlwaysRead = 2 << 20
    /// Seconds a peer may send nothing in the middle of a frame while the host reads it; then the
    /// connection is closed. A frame admitted holds its whole length of the budget: a peer that
    /// stalls must give it back. A device sends a frame in one go, so a minute is a dead link.
    public var stalledFrameSeconds = 60

    /// Bytes a peer may send before its session is accepted: the handshake messages (under 200
    /// bytes each) and nothing else, since a device waits for the welcome before its first
    /// request. A connection sending more is closed; this is not configurable.
    public static let preSessionBytes = 16 << 10

    public init() {}
}

/// Counts connections and handshakes per peer IP address, shared by every connection of a server.
final class PeerLimiter: Sendable {
    private struct Peer {
        var open = 0
        var tokens: Double
        var refilled: NIODeadline
    }

    private let limits: HostLimits
    private let peers = NIOLockedValueBox<[String: Peer]>([:])

    init(limits: HostLimits) {
        self.limits = limits
    }

    /// Whether a new connection from `address` may proceed; when it may, it counts as open
    /// until `release(address)`.
    func admit(_ address: String, now: NIODeadline = .now()) -> Bool {
        peers.withLockedValue { peers in
            var peer = peers[address] ?? Peer(tokens: Double(limits.handshakeBurstPerAddress), refilled: now)
            let elapsed = Double((now - peer.refilled).nanoseconds) / 1e9
            peer.tokens = min(Double(limits.handshakeBurstPerAddress),
                              peer.tokens + elapsed * Double(limits.handshakesPerSecondPerAddress))
            peer.refilled = now
            guard peer.open < limits.connectionsPerAddress, peer.tokens >= 1 else {
                peers[address] = peer
                return false
            }
            peer.tokens -= 1
            peer.open += 1
            peers[address] = peer
            return true
        }
    }

    /// A connection `admit` let in has closed. An address with nothing open and a full bucket is
    /// forgotten, so the table stays as small as the set of recent peers.
    func release(_ address: String, now: NIODeadline = .now()) {
        peers.withLockedValue { peers in
            guard var peer = peers[address] else { return }
            peer.open -= 1
            let elapsed = Double((now - peer.refilled).nanoseconds) / 1e9
            let full = peer.tokens + elapsed * Double(limits.handshakesPerSecondPerAddress)
                >= Double(limits.handshakeBurstPerAddress)
            peers[address] = peer.open <= 0 && full ? nil : peer
        }
    }
}

/// Closes a connection as soon as it is active: a peer over its address's limits.
final class RefuseConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func channelActive(context: ChannelHandlerContext) {
        context.close(promise: nil)
    }
}

/// Permits to run requests, shared by all connections: at most `inFlightPerVault` per vault,
/// and a SCRUB only when its vault runs no other SCRUB and the host fewer than `scrubsPerHost`.
/// A request that can run starts at once, even past waiters that cannot (a SCRUB waiting for
/// another must not hold up other vaults); waiters start in order of arrival as permits free up.
final class RequestGate: Sendable {
    private struct Waiter {
        let vault: VaultID
        let scrub: Bool
        let promise: EventLoopPromise<Void>
    }

    private struct State {
        var running: [VaultID: Int] = [:]
        var scrubbing: Set<VaultID> = []
        var waiting: [Waiter] = []

        func canRun(_ vault: VaultID, scrub: Bool, limits: HostLimits) -> Bool {
            guard running[vault, default: 0] < limits.inFlightPerVault else { return false }
            return !scrub || (!scrubbing.contains(vault) && scrubbing.count < limits.scrubsPerHost)
        }

        mutating func take(_ vault: VaultID, scrub: Bool) {
            running[vault, default: 0] += 1
            if scrub { scrubbing.insert(vault) }
        }
    }

    private let limits: HostLimits
    private let state = NIOLockedValueBox(State())

    init(limits: HostLimits) {
        self.limits = limits
    }

    /// Succeeds once a request of `vault` may run; the caller then owes one `leave`.
    func enter(_ vault: VaultID, scrub: Bool, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        state.withLockedValue { state in
            if state.canRun(vault, scrub: scrub, limits: limits) {
                state.take(vault, scrub: scrub)
                return eventLoop.makeSucceededVoidFuture()
            }
            let promise = eventLoop.makePromise(of: Void.self)
            state.waiting.append(Waiter(vault: vault, scrub: scrub, promise: promise))
            return promise.futureResult
        }
    }

    /// A request `enter` let run has finished; starts the waiters that can run now.
    func leave(_ vault: VaultID, scrub: Bool) {
        let ready = state.withLockedValue { state -> [EventLoopPromise<Void>] in
            state.running[vault, default: 0] -= 1
            if state.running[vault] == 0 { state.running[vault] = nil }
            if scrub { state.scrubbing.remove(vault) }
            var ready: [EventLoopPromise<Void>] = []
            var still: [Waiter] = []
            for waiter in state.waiting {
                if state.canRun(waiter.vault, scrub: waiter.scrub, limits: limits) {
                    state.take(waiter.vault, scrub: waiter.scrub)
                    ready.append(waiter.promise)
                } else {
                    still.append(waiter)
                }
            }
            state.waiting = still
            return ready
        }
        ready.forEach { $0.succeed() }
    }
}
