import ArgumentParser
import Dispatch
import Foundation
import Logging
import NIOCore
import NIOPosix
import VishwaCore
import VishwaShardHost
import VishwaShardStore
import VishwaTransport

#if canImport(Glibc)
import Glibc
#endif

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve shards to paired devices until SIGTERM or SIGINT.",
        discussion: "Prints 'listening on HOST:PORT' on standard output once ready; logs go to standard error.")

    @OptionGroup var options: DirOptions

    @Option(name: .long, help: "Address to listen on (default: from the configuration; the LISTEN_PORT variable overrides the port).")
    var listen: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Option(name: .long, help: ArgumentHelp("Open connections allowed from one IP address; more are closed at once.",
                                            valueName: "n"))
    var maxConnectionsPerAddress = HostLimits().connectionsPerAddress

    @Option(name: .long, help: ArgumentHelp(
        "Connections (handshakes) one IP address may start per second, after a burst of \(HostLimits().handshakeBurstPerAddress).",
        valueName: "n"))
    var handshakesPerSecond = HostLimits().handshakesPerSecondPerAddress

    @Option(name: .long, help: ArgumentHelp("Requests of one vault run at once, over all its connections; more wait.",
                                            valueName: "n"))
    var maxRequestsPerVault = HostLimits().inFlightPerVault

    @Option(name: .long, help: ArgumentHelp(
        "MiB of requests the host holds at once, arriving or waiting to run, over all connections; past it connections are read more slowly. One connection holds at most the largest request (64 MiB) of it.",
        valueName: "mib"))
    var receiveBudgetMib = HostLimits().receiveBytesPerHost >> 20

    @Option(name: .long, help: ArgumentHelp(
        "Seconds a device may send nothing in the middle of a request before its connection is closed.",
        valueName: "seconds"))
    var stalledFrameSeconds = HostLimits().stalledFrameSeconds

    @Option(name: .long, help: ArgumentHelp("Shards one vault may store; a new shard past it is refused as over quota.",
                                            valueName: "n"))
    var maxShardsPerVault = ShardStore.defaultMaxShardsPerVault

    func validate() throws {
        for (name, value) in [("--max-connections-per-address", maxConnectionsPerAddress),
                              ("--handshakes-per-second", handshakesPerSecond),
                              ("--max-requests-per-vault", maxRequestsPerVault),
                              ("--max-shards-per-vault", maxShardsPerVault),
                              ("--receive-budget-mib", receiveBudgetMib),
                              ("--stalled-frame-seconds", stalledFrameSeconds)] where value < 1 {
            throw ValidationError("\(name) must be at least 1, not \(value)")
        }
    }

    /// The limits every peer is held to (docs/wire.md §2–3), from the defaults and the flags.
    var limits: HostLimits {
        var limits = HostLimits()
        limits.connectionsPerAddress = maxConnectionsPerAddress
        limits.handshakesPerSecondPerAddress = handshakesPerSecond
        limits.inFlightPerVault = maxRequestsPerVault
        limits.receiveBytesPerHost = min(receiveBudgetMib, 1 << 30) << 20
        limits.stalledFrameSeconds = min(stalledFrameSeconds, 1 << 30)
        return limits
    }

    func run() async throws {
        try await reportingErrors {
            let logger = makeLogger(level: logLevel)
            // Catch the signals before announcing readiness, so a SIGTERM sent right after
            // "listening on" is never lost.
            let signals = Signals(catching: [SIGTERM, SIGINT])
            let config = try HostConfig.load(from: options.dir)
            let identity = try HostIdentity.load(from: options.dir)
            let lock = try ServeLock(dir: options.dir)
            defer { lock.release() }
            let address = try listenAddress(config: config)

            let store = try ShardStore(directory: options.dir + "/store", freeSpaceReserve: config.reserveBytes,
                                       maxShardsPerVault: maxShardsPerVault, logger: logger)
            let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
            let pool = NIOThreadPool(numberOfThreads: 16)
            pool.start()
            // Authorization reads only the small registry: two threads keep devices connecting
            // while the disk pool is busy.
            let authorizationPool = NIOThreadPool(numberOfThreads: 2)
            authorizationPool.start()
            let service = ShardHostService(store: store, registry: PairingRegistry(dir: options.dir),
                                           hostKey: identity.publicKey, threadPool: pool,
                                           authorizationPool: authorizationPool, logger: logger)
            let server = try await HostServer.start(service: service, staticKeyPair: identity, address: address,
                                                    group: group, logger: logger, limits: limits)
            print("listening on \(server.localAddress)")
            fflush(nil)

            let signal = await signals.next()
            logger.notice("received signal \(signal), stopping")
            await server.stop()
            try? await group.shutdownGracefully()
            try? await pool.shutdownGracefully()
            try? await authorizationPool.shutdownGracefully()
            logger.notice("stopped")
        }
    }

    private func listenAddress(config: HostConfig) throws -> HostAddress {
        let text = listen ?? config.listen
        guard var address = HostAddress(parsing: text) else { throw ValidationError("'\(text)' is not HOST:PORT") }
        if listen == nil, let port = ProcessInfo.processInfo.environment["LISTEN_PORT"] {
            guard let value = Int(port), (0...65535).contains(value) else {
                throw ValidationError("LISTEN_PORT '\(port)' is not a port number")
            }
            address = HostAddress(host: address.host, port: value)
        }
        return address
    }
}

/// Holds `<dir>/serve.lock` for the life of the daemon, so two daemons never share a store.
struct ServeLock {
    let fd: Int32

    init(dir: String) throws {
        let path = dir + "/serve.lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw HostError.file(FileError("opening", path, errno: errno)) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw HostError.alreadyServing(dir: dir)
        }
    }

    func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}

/// Delivers SIGTERM/SIGINT through Dispatch (no code runs in signal context). Installed once,
/// early; `next()` waits for the first signal caught since.
final class Signals: @unchecked Sendable {
    private let stream: AsyncStream<Int32>
    private var sources: [any DispatchSourceSignal] = []

    init(catching numbers: [Int32]) {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        self.stream = stream
        for number in numbers {
            Glibc.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            sources.append(source)
        }
    }

    func next() async -> Int32 {
        for await number in stream { return number }
        return SIGTERM
    }
}
