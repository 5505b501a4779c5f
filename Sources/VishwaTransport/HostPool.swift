import Logging
import NIOCore
import VishwaCrypto
import VishwaWire

/// A host as the device knows it: where to reach it and the key it pinned at pairing.
public struct HostEndpoint: Sendable, Hashable, CustomStringConvertible {
    public let address: HostAddress
    public let publicKey: [UInt8]

    public init(address: HostAddress, publicKey: [UInt8]) {
        self.address = address
        self.publicKey = publicKey
    }

    public var description: String { address.description }
}

/// One connection per host, opened on first use, reopened after a failure with exponential
/// backoff (1 s doubling to 60 s), so an offline host costs one quick failure per backoff period
/// instead of a connect timeout per request.
public actor HostPool {
    private let device: X25519KeyPair
    private let hello: ClientHello
    private let group: any EventLoopGroup
    private let logger: Logger
    public let connectTimeout: TimeAmount

    private var connections: [HostEndpoint: HostConnection] = [:]
    private var connecting: [HostEndpoint: Task<HostConnection, any Error>] = [:]
    private var failures: [HostEndpoint: (count: Int, until: ContinuousClock.Instant, reason: String)] = [:]

    public init(device: X25519KeyPair, hello: ClientHello, group: any EventLoopGroup, logger: Logger,
                connectTimeout: TimeAmount = .seconds(5)) {
        self.device = device
        self.hello = hello
        self.group = group
        self.logger = logger
        self.connectTimeout = connectTimeout
    }

    /// An open connection to `host`, connecting if needed. Throws at once while the host is in
    /// backoff after a failure.
    public func connection(to host: HostEndpoint) async throws(TransportError) -> HostConnection {
        if let open = connections[host], open.isActive { return open }
        connections[host] = nil
        if let failure = failures[host], ContinuousClock.now < failure.until {
            throw .connectFailed(address: host.description, reason: failure.reason + " (retrying later)")
        }
        let task: Task<HostConnection, any Error>
        if let running = connecting[host] {
            task = running
        } else {
            let (device, hello, group, logger, timeout) = (self.device, self.hello, self.group, self.logger, connectTimeout)
            task = Task {
                try await HostConnection.connect(to: host.address, hostKey: host.publicKey, device: device, hello: hello,
                                                 group: group, timeout: timeout, logger: logger)
            }
            connecting[host] = task
        }
        do {
            let connection = try await task.value
            connecting[host] = nil
            connections[host] = connection
            failures[host] = nil
            return connection
        } catch {
            connecting[host] = nil
            let transport = (error as? TransportError) ?? .connectFailed(address: host.description, reason: "\(error)")
            let count = (failures[host]?.count ?? 0) + 1
            let delay = min(60.0, Double(1 << min(count - 1, 6)))
            failures[host] = (count, ContinuousClock.now + .seconds(delay), transport.description)
            logger.info("host \(host) unreachable: \(transport)")
            throw transport
        }
    }

    /// Sends one request to `host` over its pooled connection.
    public func send(_ request: Request, to host: HostEndpoint, timeout: TimeAmount = .seconds(30)) async throws(TransportError) -> ByteBuffer {
        let connection = try await connection(to: host)
        return try await connection.send(request, timeout: timeout)
    }

    /// Forgets a host's backoff, e.g. after the user says it is back.
    public func resetBackoff(_ host: HostEndpoint) { failures[host] = nil }

    /// Closes every connection.
    public func closeAll() async {
        let open = Array(connections.values)
        connections = [:]
        for connection in open { await connection.close() }
    }
}
