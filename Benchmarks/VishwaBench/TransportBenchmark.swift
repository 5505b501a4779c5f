import Logging
import NIOCore
import NIOPosix
import VishwaCore
import VishwaCrypto
import VishwaTransport
import VishwaWire

/// `vishwa bench transport`: PUT and GET throughput of 700 KiB shards with 16 requests in flight,
/// and the round-trip latency of a small GET, one at a time, over a real Noise connection.
public struct TransportBenchmark: Sendable {
    public var shardSize = 700 << 10
    public var inFlight = 16
    public var shards = 240
    public var latencySamples = 2000
    public var rounds = 3

    public init() {}

    public struct Result: Sendable, Codable {
        public var put_mbps: Double
        public var get_mbps: Double
        public var get_small_p50_ms: Double
        public var get_small_p99_ms: Double
        public var shard_bytes: Int
        public var in_flight: Int
        public var host: String
    }

    /// Runs against an open, authorized connection. Writes (and deletes) its own shards.
    public func run(on connection: HostConnection) async throws -> Result {
        var putRates: [Double] = []
        var getRates: [Double] = []
        let payload = randomBuffer(shardSize)
        for _ in 0..<rounds {
            let ids = (0..<shards).map { _ in WireShardID(high: .random(in: 0...UInt64.max), low: .random(in: 0...UInt64.max)) }
            putRates.append(try await rate(ids) { id in try await connection.put(id, payload) })
            getRates.append(try await rate(ids) { id in
                let body = try await connection.get(id)
                precondition(body.readableBytes == payload.readableBytes)
            })
            _ = try await connection.delete(ids)
        }

        let small = WireShardID(high: 1, low: 1)
        try await connection.put(small, randomBuffer(4096))
        for _ in 0..<100 { _ = try await connection.get(small) }  // warm up
        var samples: [Double] = []
        samples.reserveCapacity(latencySamples)
        for _ in 0..<latencySamples {
            let start = Measure.now()
            _ = try await connection.get(small)
            samples.append(Double(Measure.now() - start) / 1e6)
        }
        _ = try await connection.delete([small])
        samples.sort()
        return Result(put_mbps: Measure.median(putRates), get_mbps: Measure.median(getRates),
                      get_small_p50_ms: samples[samples.count / 2],
                      get_small_p99_ms: samples[min(samples.count - 1, samples.count * 99 / 100)],
                      shard_bytes: shardSize, in_flight: inFlight, host: connection.address.description)
    }

    /// MB/s for running `body` once per id with `inFlight` at a time.
    private func rate(_ ids: [WireShardID], _ body: @escaping @Sendable (WireShardID) async throws -> Void) async throws -> Double {
        let start = Measure.now()
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            for _ in 0..<min(inFlight, ids.count) {
                let id = ids[next]
                next += 1
                group.addTask { try await body(id) }
            }
            while try await group.next() != nil {
                if next < ids.count {
                    let id = ids[next]
                    next += 1
                    group.addTask { try await body(id) }
                }
            }
        }
        let seconds = Double(Measure.now() - start) / 1e9
        return Double(ids.count * shardSize) / seconds / 1e6
    }

    /// Starts a local host, pairs a throwaway device with it, runs, and stops the host.
    public func runAgainstLocalHost() async throws -> Result {
        let host = try LocalHost(binary: LocalHost.siblingBinary())
        defer { host.stop() }
        let code = try PairingCode(parsing: try host.invite())
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let device = X25519KeyPair.generate()
        let vault = VaultID(high: .random(in: 0...UInt64.max), low: .random(in: 0...UInt64.max))
        let connection = try await HostConnection.connect(
            to: code.address, hostKey: code.hostKey, device: device,
            hello: .pairing(vaultID: vault, secret: code.secret, hostKey: code.hostKey, device: device,
                            vaultKey: .generate()), group: group,
            logger: Logger(label: "bench"))
        let result: Result
        do {
            result = try await run(on: connection)
        } catch {
            await connection.close()
            try? await group.shutdownGracefully()
            throw error
        }
        await connection.close()
        try? await group.shutdownGracefully()
        return result
    }
}

func randomBuffer(_ size: Int) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeBytes(Random.bytes(size))
    return buffer
}
