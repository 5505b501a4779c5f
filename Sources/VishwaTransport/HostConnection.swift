import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import VishwaCrypto
import VishwaWire

/// One secure connection from this device to one host, carrying many requests at once.
///
/// Requests get ids and may complete in any order; each has its own timeout. When the connection
/// closes, every request in flight fails with `.connectionClosed`. Thread-safe: `send` may be called
/// from any task; the work happens on the channel's event loop.
public final class HostConnection: Sendable {
    public let address: HostAddress
    private let channel: any Channel
    private let handler: NIOLoopBound<ClientHandler>

    private init(address: HostAddress, channel: any Channel, handler: NIOLoopBound<ClientHandler>) {
        self.address = address
        self.channel = channel
        self.handler = handler
    }

    /// Connects, runs the Noise handshake with `hostKey` pinned, and waits for the host's welcome.
    ///
    /// - Parameters:
    ///   - device: this device's static key pair (its identity toward hosts).
    ///   - hello: the vault it acts for, and a pairing secret when pairing.
    /// - Throws: `TransportError` (connect, handshake, refused, timed out).
    public static func connect(
        to address: HostAddress, hostKey: [UInt8], device: X25519KeyPair, hello: ClientHello,
        group: any EventLoopGroup, timeout: TimeAmount = .seconds(10), logger: Logger
    ) async throws(TransportError) -> HostConnection {
        let description = address.description
        // The initializer runs on the channel's event loop; it hands the handler and its welcome
        // promise out through this box, since the channel may close before anyone looks it up.
        let handlerBox = NIOLockedValueBox<(NIOLoopBound<ClientHandler>, EventLoopPromise<Void>)?>(nil)
        let bootstrap = ClientBootstrap(group: group)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let secure = SecureFrameHandler(
                        role: .initiator(pinnedHostKey: hostKey, hello: hello), staticKeyPair: device, logger: logger)
                    let ready = channel.eventLoop.makePromise(of: Void.self)
                    let client = ClientHandler(address: description, readyPromise: ready)
                    try channel.pipeline.syncOperations.addHandlers([secure, client])
                    handlerBox.withLockedValue { $0 = (NIOLoopBound(client, eventLoop: channel.eventLoop), ready) }
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: address.host, port: address.port).get()
        } catch {
            throw .connectFailed(address: description, reason: "\(error)")
        }
        guard let (handler, ready) = handlerBox.withLockedValue({ $0 }) else {
            try? await channel.close()
            throw .connectFailed(address: description, reason: "channel set-up failed")
        }
        do {
            let timer = channel.eventLoop.scheduleTask(in: timeout) {
                ready.fail(TransportError.timedOut(address: description, operation: "handshake",
                                                   seconds: Double(timeout.nanoseconds) / 1e9))
            }
            defer { timer.cancel() }
            try await ready.futureResult.get()
            return HostConnection(address: address, channel: channel, handler: handler)
        } catch {
            try? await channel.close()
            if let error = error as? TransportError { throw error }
            throw .handshakeFailed(address: description, reason: "\(error)")
        }
    }

    /// Whether the connection is still open.
    public var isActive: Bool { channel.isActive }

    /// Sends `request` and waits for its response, at most `timeout`.
    /// Throws `TransportError` for a timeout, a closed connection, or a failure status from the host.
    public func send(_ request: Request, timeout: TimeAmount = .seconds(30)) async throws(TransportError) -> ByteBuffer {
        let promise = channel.eventLoop.makePromise(of: Response.self)
        let handler = self.handler
        let seconds = Double(timeout.nanoseconds) / 1e9
        channel.eventLoop.execute {
            handler.value.send(request, timeout: timeout, seconds: seconds, promise: promise)
        }
        let response: Response
        do {
            // Cancelling the task (a hedged read that no longer needs this shard) fails the request
            // now; a late response is then dropped.
            response = try await withTaskCancellationHandler {
                try await promise.futureResult.get()
            } onCancel: {
                promise.fail(CancellationError())
            }
        } catch let error as TransportError {
            throw error
        } catch {
            throw .connectionClosed(address: address.description)
        }
        guard response.status == .ok else {
            throw .host(address: address.description, status: response.status, message: response.message)
        }
        return response.body
    }

    /// Closes the connection; requests in flight fail with `.connectionClosed`.
    public func close() async {
        try? await channel.close()
    }
}

/// Matches responses to requests by id on the connection's event loop.
final class ClientHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame

    let address: String
    /// Succeeds at the host's welcome frame; fails if it refuses or the connection drops first.
    let ready: EventLoopPromise<Void>
    private var context: ChannelHandlerContext?
    private var pending: [UInt32: (promise: EventLoopPromise<Response>, timer: Scheduled<Void>, operation: Operation)] = [:]
    private var nextID: UInt32 = 1
    private var welcomed = false

    init(address: String, readyPromise: EventLoopPromise<Void>) {
        self.address = address
        self.ready = readyPromise
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        ready.fail(TransportError.connectionClosed(address: address))  // no-op once completed
    }

    func send(_ request: Request, timeout: TimeAmount, seconds: Double, promise: EventLoopPromise<Response>) {
        guard let context, context.channel.isActive, welcomed else {
            promise.fail(TransportError.connectionClosed(address: address))
            return
        }
        let id = nextID
        nextID = nextID == UInt32.max ? 1 : nextID + 1  // 0 is the welcome
        let address = self.address
        let operation = request.operation
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let timer = context.eventLoop.scheduleTask(in: timeout) {
            bound.value.complete(id: id, with: .failure(TransportError.timedOut(
                address: address, operation: operation.description, seconds: seconds)))
        }
        pending[id] = (promise, timer, operation)
        context.writeAndFlush(Self.wrapOutboundOut(request.frame(id: id, allocator: context.channel.allocator)), promise: nil)
    }

    private func complete(id: UInt32, with result: Result<Response, any Error>) {
        guard let entry = pending.removeValue(forKey: id) else { return }
        entry.timer.cancel()
        entry.promise.completeWith(result)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        let response: Response
        do {
            response = try Response(frame: frame)
        } catch {
            context.close(promise: nil)
            return
        }
        if frame.id == 0 {
            if response.status == .ok {
                welcomed = true
                ready.succeed()
            } else {
                ready.fail(TransportError.refused(address: address, reason: response.message))
            }
            return
        }
        complete(id: frame.id, with: .success(response))
    }

    /// Only the secure handler fires errors here: why its handshake failed.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        ready.fail(TransportError.handshakeFailed(address: address, reason: "\(error)"))  // no-op once completed
    }

    func channelInactive(context: ChannelHandlerContext) {
        let closed = TransportError.connectionClosed(address: address)
        ready.fail(closed)
        for id in Array(pending.keys) { complete(id: id, with: .failure(closed)) }
        context.fireChannelInactive()
    }
}
