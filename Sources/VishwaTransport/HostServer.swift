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

    /// Binds `address` and starts serving. Throws if the address cannot be bound.
    public static func start(
        service: some HostService, staticKeyPair: X25519KeyPair, address: HostAddress,
        group: any EventLoopGroup, logger: Logger, maxInFlightPerConnection: Int = 64
    ) async throws -> HostServer {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let authorize: @Sendable ([UInt8], ClientHello) async -> Authorization = { device, hello in
                        await service.authorize(device: device, hello: hello)
                    }
                    let secure = SecureFrameHandler(role: .responder(authorize: authorize),
                                                    staticKeyPair: staticKeyPair, logger: logger)
                    let dispatcher = RequestDispatcher(service: service, logger: logger,
                                                       maxInFlight: maxInFlightPerConnection)
                    try channel.pipeline.syncOperations.addHandlers([secure, HandshakeTimeout(), dispatcher])
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
/// At most `maxInFlight` requests run at once per connection; past that, the handler stops asking
/// the socket for more bytes (TCP back-pressure) until answers go out.
final class RequestDispatcher: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = Frame
    typealias OutboundOut = Frame

    private let service: any HostService
    private let logger: Logger
    private let maxInFlight: Int
    private var session: (device: [UInt8], vault: VaultID)?
    private var inFlight = 0
    private var readHeld = false
    private var flushScheduled = false

    init(service: any HostService, logger: Logger, maxInFlight: Int) {
        self.service = service
        self.logger = logger
        self.maxInFlight = maxInFlight
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
        inFlight += 1
        let id = frame.id
        let service = self.service
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let promise = context.eventLoop.makePromise(of: Response.self)
        promise.completeWithTask { await service.handle(request, device: session.device, vault: session.vault) }
        promise.futureResult.whenSuccess { response in
            let (handler, context) = bound.value
            handler.answer(id: id, response: response, context: context)
        }
    }

    private func answer(id: UInt32, response: Response, context: ChannelHandlerContext) {
        inFlight -= 1
        guard context.channel.isActive else { return }
        context.write(Self.wrapOutboundOut(response.frame(id: id)), promise: nil)
        // Answers finishing together share one flush (and so one Noise message when small).
        if !flushScheduled {
            flushScheduled = true
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.execute {
                let (handler, context) = bound.value
                handler.flushScheduled = false
                context.flush()
            }
        }
        if readHeld && inFlight < maxInFlight {
            readHeld = false
            context.read()
        }
    }

    func read(context: ChannelHandlerContext) {
        if inFlight >= maxInFlight {
            readHeld = true
        } else {
            context.read()
        }
    }
}
