import Logging
import NIOCore
import NIOPosix
import VishwaCore
import VishwaCrypto
import VishwaWire

/// What a host does with devices and their requests; `vishwa-shard` implements it over its store.
public protocol HostService: Sendable {
    /// Decides whether `device` (its static key, proven by the handshake) may use the vault it
    /// names, or pair with the one-time secret it presents. Runs before any request is read.
    func authorize(device: [UInt8], hello: ClientHello) async -> Authorization

    /// Answers one request of an authorized device. Must not block the caller's thread on disk
    /// I/O (use a thread pool); many requests of one connection run at once.
    func handle(_ request: Request, device: [UInt8], vault: VaultID) async -> Response
}

/// The listening side: accepts connections, runs the responder handshake, and dispatches frames.
public final class HostServer: Sendable {
    private let channel: any Channel
    /// The address actually bound (useful with port 0).
    public let localAddress: HostAddress

    private init(channel: any Channel, localAddress: HostAddress) {
        self.channel = channel
        self.localAddress = localAddress
    }

    /// Binds `address` and starts serving, holding every peer to `limits`. Throws if the address
    /// cannot be bound.
    public static func start(
        service: some HostService, staticKeyPair: X25519KeyPair, address: HostAddress,
        group: any EventLoopGroup, logger: Logger, limits: HostLimits = HostLimits()
    ) async throws -> HostServer {
        let peers = PeerLimiter(limits: limits)
        let gate = RequestGate(limits: limits)
        let budget = ReceiveBudget(limits: limits)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: limits.pendingAnswerBytesPerConnection / 2,
                                                                     high: limits.pendingAnswerBytesPerConnection))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Keyed by IP alone: one machine's connections share its limits whatever their ports.
                    let peer = channel.remoteAddress?.ipAddress ?? "?"
                    guard peers.admit(peer) else {
                        logger.debug("refusing a connection from \(peer): over its connection or handshake limit")
                        try channel.pipeline.syncOperations.addHandler(RefuseConnection())
                        return
                    }
                    channel.closeFuture.whenComplete { _ in peers.release(peer) }
                    let authorize: @Sendable ([UInt8], ClientHello) async -> Authorization = { device, hello in
                        await service.authorize(device: device, hello: hello)
                    }
                    let account = ReceiveAccount(budget: budget)
                    let secure = SecureFrameHandler(role: .responder(authorize: authorize),
                                                    staticKeyPair: staticKeyPair, logger: logger, account: account)
                    let dispatcher = RequestDispatcher(service: service, logger: logger, limits: limits, gate: gate,
                                                       account: account)
                    let receiveGate = ReceiveGate(account: account, stallLimit: .seconds(Int64(limits.stalledFrameSeconds)),
                                                  logger: logger)
                    try channel.pipeline.syncOperations.addHandlers([receiveGate, secure,
                                                                     HandshakeTimeout(), dispatcher])
                }
            }
        let channel = try await bootstrap.bind(host: address.host, port: address.port).get()
        let bound = channel.localAddress
        let local = HostAddress(host: bound?.ipAddress ?? address.host, port: bound?.port ?? address.port)
        logger.info("listening on \(local)")
        return HostServer(channel: channel, localAddress: local)
    }

    /// Stops accepting connections. Open connections end when their peers close or the group shuts down.
    public func stop() async {
        try? await channel.close()
    }
}

/// Closes a connection that has not completed its handshake (and authorization) within 10 s.
final class HandshakeTimeout: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    private var timer: Scheduled<Void>?

    func channelActive(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: .seconds(10)) { bound.value.close(promise: nil) }
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is SecureSessionEstablished { timer?.cancel() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        context.fireChannelInactive()
    }
}

/// Decodes request frames of an authorized session and answers them, many at a time.
///
/// Decoded requests wait in a queue and start while the connection has fewer than
/// `inFlightPerConnection` running, fewer than `pendingAnswerBytesPerConnection` answer bytes not
/// yet taken by the socket, and the channel is writable; each then waits for its vault's permit
/// (`RequestGate`). While anything is queued or the output is backed up, the handler stops asking
/// the socket for more bytes (TCP back-pressure), so a peer that never reads its answers holds
/// at most those bounds of the host's memory. It resumes as answers go out. Each request's frame
/// counts in the connection's `ReceiveAccount` from its arrival until it is answered.
final class RequestDispatcher: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = Frame
    typealias OutboundOut = Frame

    private let service: any HostService
    private let logger: Logger
    private let limits: HostLimits
    private let gate: RequestGate
    private let account: ReceiveAccount?
    private var session: (device: [UInt8], vault: VaultID)?
    private var queue = CircularBuffer<(id: UInt32, request: Request, size: Int)>()
    private var inFlight = 0
    private var pendingAnswerBytes = 0
    private var readHeld = false
    private var flushScheduled = false

    init(service: any HostService, logger: Logger, limits: HostLimits, gate: RequestGate, account: ReceiveAccount? = nil) {
        self.service = service
        self.account = account
        self.logger = logger
        self.limits = limits
        self.gate = gate
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let established = event as? SecureSessionEstablished, let hello = established.hello {
            session = (established.remoteStaticKey, hello.vaultID)
            logger.info("device \(KeyFingerprint.short(established.remoteStaticKey)) connected from \(context.remoteAddress?.description ?? "?") for vault \(hello.vaultID)")
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        guard let session else {
            context.close(promise: nil)
            return
        }
        let request: Request
        do {
            request = try Request(frame: frame)
        } catch {
            logger.notice("closing connection of device \(KeyFingerprint.short(session.device)): \(error)")
            context.close(promise: nil)
            return
        }
        let size = Frame.headerLength + frame.bodyLength
        account?.hold(request: size)
        queue.append((frame.id, request, size))
        startQueued(context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        resume(context: context)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        queue.removeAll()
        context.fireChannelInactive()
    }

    /// Whether another request may start now.
    private func canStart(_ context: ChannelHandlerContext) -> Bool {
        inFlight < limits.inFlightPerConnection && pendingAnswerBytes < limits.pendingAnswerBytesPerConnection
            && context.channel.isWritable
    }

    private func startQueued(context: ChannelHandlerContext) {
        while canStart(context), let next = queue.popFirst() {
            start(next.request, id: next.id, size: next.size, context: context)
        }
    }

    private func start(_ request: Request, id: UInt32, size: Int, context: ChannelHandlerContext) {
        guard let session else { return }
        inFlight += 1
        let service = self.service
        let gate = self.gate
        let scrub = request.operation == .scrub
        let eventLoop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: eventLoop)
        gate.enter(session.vault, scrub: scrub, on: eventLoop).flatMap { () -> EventLoopFuture<Response> in
            // A request whose connection closed while it waited is not worth the disk.
            guard bound.value.1.channel.isActive else {
                return eventLoop.makeSucceededFuture(.failure(.busy, "connection closed"))
            }
            let promise = eventLoop.makePromise(of: Response.self)
            promise.completeWithTask { await service.handle(request, device: session.device, vault: session.vault) }
            return promise.futureResult
        }.whenSuccess { response in
            gate.leave(session.vault, scrub: scrub)
            let (handler, context) = bound.value
            handler.account?.release(request: size)
            handler.answer(id: id, response: response, context: context)
        }
    }

    private func answer(id: UInt32, response: Response, context: ChannelHandlerContext) {
        inFlight -= 1
        guard context.channel.isActive else { return }
        let frame = response.frame(id: id)
        let size = Frame.headerLength + frame.bodyLength
        pendingAnswerBytes += size
        let written = context.eventLoop.makePromise(of: Void.self)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        written.futureResult.whenComplete { _ in
            let (handler, context) = bound.value
            handler.pendingAnswerBytes -= size
            handler.resume(context: context)
        }
        context.write(Self.wrapOutboundOut(frame), promise: written)
        // Answers finishing together share one flush (and so one Noise message when small).
        if !flushScheduled {
            flushScheduled = true
            context.eventLoop.execute {
                let (handler, context) = bound.value
                handler.flushScheduled = false
                context.flush()
            }
        }
        resume(context: context)
    }

    /// Starts what the limits now allow, and reads again once nothing waits.
    private func resume(context: ChannelHandlerContext) {
        startQueued(context: context)
        if readHeld && queue.isEmpty && canStart(context) {
            readHeld = false
            context.read()
        }
    }

    func read(context: ChannelHandlerContext) {
        if !queue.isEmpty || !canStart(context) {
            readHeld = true
        } else {
            context.read()
        }
    }
}
