import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The bytes of requests a host holds, shared by every connection of a server: frames still
/// arriving (a 64 MiB PUT is held whole before it can run) and requests received but not yet
/// answered. Without it each connection could hold a frame of the largest size, and connections
/// from many addresses together any amount of memory.
///
/// A frame is admitted whole: once its header announces its length, the connection reads on only
/// when that length fits the host's total beside what every connection holds (or is small, see
/// `HostLimits.receiveBytesAlwaysRead`), and fits the connection's share beside its own requests.
/// Until then its socket is not read (TCP back-pressure); bytes come back as requests are
/// answered and connections close. A frame admitted can always be received whole, so connections
/// waiting for room never hold each other up.
final class ReceiveBudget: Sendable {
    private struct State {
        var used = 0
        /// Connections waiting for room, woken when bytes come back.
        var waiters: [ObjectIdentifier: @Sendable () -> Void] = [:]
    }

    let total: Int
    let perConnection: Int
    private let state = NIOLockedValueBox(State())

    init(limits: HostLimits) {
        total = limits.receiveBytesPerHost
        perConnection = min(limits.receiveBytesPerConnection, limits.receiveBytesPerHost)
    }

    /// Bytes held now by all connections.
    var used: Int { state.withLockedValue { $0.used } }

    /// Counts bytes already in memory (a request handed up, bytes read before a header).
    func add(_ bytes: Int) {
        state.withLockedValue { $0.used += bytes }
    }

    /// Gives `bytes` back and wakes the connections waiting for room.
    func remove(_ bytes: Int) {
        let woken = state.withLockedValue { state -> [@Sendable () -> Void] in
            state.used -= bytes
            guard !state.waiters.isEmpty else { return [] }
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        woken.forEach { $0() }
    }

    /// Counts `extra` more bytes for a connection that would then hold `held`, of which
    /// `requests` in requests not yet answered, if they fit. When they do not only because of the
    /// host's total, `wake` is called once bytes come back (checked and registered at once, so no
    /// release is missed); a connection over its own share waits for its own requests.
    func admit(_ extra: Int, held: Int, requests: Int, connection: ObjectIdentifier,
               wake: @escaping @Sendable () -> Void) -> Bool {
        state.withLockedValue { state in
            if held < HostLimits.receiveBytesAlwaysRead || state.used + extra <= total {
                if requests == 0 || held <= perConnection {
                    state.used += extra
                    return true
                }
                return false
            }
            state.waiters[connection] = wake
            return false
        }
    }

    func forget(_ connection: ObjectIdentifier) {
        _ = state.withLockedValue { $0.waiters.removeValue(forKey: connection) }
    }
}

/// One connection's part of the `ReceiveBudget`: the frame its secure handler is receiving (the
/// bytes buffered, or the whole announced length once admitted), and the requests its dispatcher
/// holds until they are answered. Used by the handlers of one channel, on its event loop.
final class ReceiveAccount {
    let budget: ReceiveBudget
    /// Bytes the secure handler buffers of frames and records not yet whole.
    private var buffered = 0
    /// The length the frame (or clear record) now arriving announces, and how much of that was admitted.
    private var announced = 0
    private var admitted = 0
    /// Bytes of frames handed to the dispatcher and not yet answered.
    private var requests = 0
    /// What this connection counts in the budget now.
    private var counted = 0
    private var closed = false
    /// Called (on the event loop) when this connection gave bytes back: it may read again.
    var released: (() -> Void)?

    init(budget: ReceiveBudget) {
        self.budget = budget
    }

    /// What the connection holds, counting an admitted frame at its whole length.
    private var held: Int { requests + max(buffered, admitted) }

    /// The secure handler buffers `bytes` of frames not yet whole, and the frame or record
    /// arriving announces `announced` bytes (0 when no header has come).
    func setBuffered(_ bytes: Int, announced: Int) {
        guard !closed else { return }
        buffered = bytes
        self.announced = announced
        if announced == 0 { admitted = 0 }
        settle()
    }

    /// A frame of `bytes` was handed to the dispatcher; it is held until `release(request:)`.
    /// It ends the frame that was arriving: the next one is admitted afresh.
    func hold(request bytes: Int) {
        guard !closed else { return }
        requests += bytes
        admitted = 0
        settle()
    }

    func release(request bytes: Int) {
        guard !closed else { return }
        requests -= bytes
        settle()
    }

    /// Whether a frame (or clear record) was admitted and has not all arrived: the peer owes its bytes.
    var frameArriving: Bool { !closed && announced > 0 && admitted >= announced }

    /// Whether a frame or record announced as `bytes` long can ever be held whole.
    func canEverHold(_ bytes: Int) -> Bool {
        bytes <= budget.perConnection
    }

    /// Whether the socket may be read: no frame is arriving, or it was admitted (trying now).
    func mayRead(wake: @escaping @Sendable () -> Void) -> Bool {
        guard !closed, announced > admitted else { return true }
        let want = requests + max(buffered, announced)
        guard budget.admit(want - counted, held: want, requests: requests, connection: ObjectIdentifier(self),
                           wake: wake) else { return false }
        admitted = announced
        counted = want
        return true
    }

    /// The connection closed: everything it held goes back.
    func close() {
        guard !closed else { return }
        closed = true
        budget.forget(ObjectIdentifier(self))
        if counted > 0 { budget.remove(counted) }
        counted = 0
        released = nil
    }

    /// Counts what is held now: bytes in memory count at once (they are read already); an
    /// announced frame only once `mayRead` admits it.
    private func settle() {
        let change = held - counted
        counted = held
        if change > 0 {
            budget.add(change)
        } else if change < 0 {
            budget.remove(-change)
            released?()
        }
    }
}

/// First handler of a host connection: asks the socket for bytes only while the connection's
/// `ReceiveAccount` allows (the back-pressure of `ReceiveBudget`), and closes the account with
/// the connection.
///
/// It also closes a connection that stops sending in the middle of an admitted frame for
/// `stallLimit` while the host is reading it: such a peer holds its frame's share of the budget
/// (up to 64 MiB) for nothing, and a few of them would keep every other large frame out.
final class ReceiveGate: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let account: ReceiveAccount
    private let stallLimit: TimeAmount
    private let logger: Logger
    private var readHeld = false
    /// Since when the host has asked the socket for bytes and none came (nil: none asked, or some came).
    private var waitingSince: NIODeadline?
    private var stallCheck: RepeatedTask?

    init(account: ReceiveAccount, stallLimit: TimeAmount, logger: Logger) {
        self.account = account
        self.stallLimit = stallLimit
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let every = TimeAmount.nanoseconds(max(stallLimit.nanoseconds / 4, 1_000_000))
        stallCheck = context.eventLoop.scheduleRepeatedTask(initialDelay: every, delay: every) { _ in
            let (gate, context) = bound.value
            gate.closeIfStalled(context: context)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        waitingSince = nil
        context.fireChannelRead(data)
    }

    private func closeIfStalled(context: ChannelHandlerContext) {
        guard account.frameArriving, let since = waitingSince, NIODeadline.now() - since >= stallLimit else { return }
        logger.notice("closing connection from \(context.remoteAddress?.description ?? "?"): sent nothing for \(stallLimit.nanoseconds / 1_000_000_000) s in the middle of a frame")
        stallCheck?.cancel()
        context.close(promise: nil)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        account.released = {
            let (gate, context) = bound.value
            guard gate.readHeld else { return }
            // Later, not inside the handler that gave the bytes back.
            context.eventLoop.execute {
                let (gate, context) = bound.value
                gate.retry(context: context)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        stallCheck?.cancel()
        account.close()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stallCheck?.cancel()
        account.close()  // also drops `released`, which refers back to this handler
    }

    func read(context: ChannelHandlerContext) {
        if mayRead(context: context) {
            readFromSocket(context: context)
        } else {
            readHeld = true
        }
    }

    private func retry(context: ChannelHandlerContext) {
        guard readHeld, context.channel.isActive, mayRead(context: context) else { return }
        readHeld = false
        readFromSocket(context: context)
    }

    private func readFromSocket(context: ChannelHandlerContext) {
        if waitingSince == nil { waitingSince = .now() }
        context.read()
    }

    private func mayRead(context: ChannelHandlerContext) -> Bool {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        return account.mayRead {
            eventLoop.execute {
                let (gate, context) = bound.value
                gate.retry(context: context)
            }
        }
    }
}
