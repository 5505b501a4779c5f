import Foundation
import Logging
import NIOCore
import TestSupport
import Testing
import VishwaCore
import VishwaTransport
import VishwaWire

/// The client side against real hosts: one pooled connection per host, reconnection after a
/// restart, and hedged reads that take the first k good shards.
@Suite(.ownThreads, .timeLimit(.minutes(3))) struct PoolTests {
    /// Three hosts paired with one device, and the pool that reaches them.
    struct Fleet {
        let hosts: [ShardHostProcess]
        let endpoints: [HostEndpoint]
        let pool: HostPool
    }

    func fleet(_ scratch: Scratch, count: Int, device: TestDevice) async throws -> Fleet {
        var hosts: [ShardHostProcess] = []
        var endpoints: [HostEndpoint] = []
        for i in 0..<count {
            let host = try ShardHostProcess(in: scratch, name: "h\(i)")
            let (connection, code) = try await device.pair(try host.invite())
            await connection.close()
            hosts.append(host)
            endpoints.append(HostEndpoint(address: code.address, publicKey: code.hostKey))
        }
        let pool = HostPool(device: device.keyPair, hello: ClientHello(vaultID: device.vault, intent: .session),
                            group: TestDevice.group, logger: TestDevice.logger, connectTimeout: .seconds(2))
        return Fleet(hosts: hosts, endpoints: endpoints, pool: pool)
    }

    @Test func hedgedReadsTakeTheFirstGoodShardsAndSkipDeadOrRejectedOnes() async throws {
        let scratch = Scratch("hedge")
        let device = TestDevice()
        let fleet = try await fleet(scratch, count: 3, device: device)
        // Shard i on host i % 3; 6 shards.
        var locations: [ShardLocation] = []
        var contents: [Int: ByteBuffer] = [:]
        for index in 0..<6 {
            let location = ShardLocation(index: index, id: randomID(), host: fleet.endpoints[index % 3])
            let data = randomShard(10_000 + index)
            _ = try await fleet.pool.send(.put(id: location.id, data: data), to: location.host)
            locations.append(location)
            contents[index] = data
        }
        // Host 0 dies: its shards (0 and 3) fail, and the fetch moves on to the other candidates.
        fleet.hosts[0].kill()
        let result = await fleet.pool.hedgedFetch(locations, need: 3, extra: 1) { _, _ in true }
        #expect(result.shards.count == 3)
        for (location, body) in result.shards {
            #expect(location.host != fleet.endpoints[0])
            #expect(body == contents[location.index])
        }
        #expect(!result.failures.isEmpty)

        // A shard the caller rejects (as a failed authentication would) is replaced by another.
        let picky = await fleet.pool.hedgedFetch(locations, need: 2, extra: 0) { location, _ in location.index != 1 }
        #expect(picky.shards.count == 2)
        #expect(!picky.shards.contains { $0.0.index == 1 })

        // Not enough candidates: what could be had, and why the rest failed.
        let short = await fleet.pool.hedgedFetch(Array(locations.prefix(3)), need: 3) { _, _ in true }
        #expect(short.shards.count == 2)
        #expect(short.failures.count == 1)
        await fleet.pool.closeAll()
    }

    @Test func thePoolReconnectsAfterAHostRestarts() async throws {
        let scratch = Scratch("reconnect")
        let device = TestDevice()
        let fleet = try await fleet(scratch, count: 1, device: device)
        let host = fleet.hosts[0]
        let endpoint = fleet.endpoints[0]
        _ = try await fleet.pool.send(.ping, to: endpoint)
        host.kill()
        await #expect(throws: TransportError.self) { try await fleet.pool.send(.ping, to: endpoint, timeout: .seconds(2)) }
        try host.start()
        await fleet.pool.resetBackoff(endpoint)
        _ = try await fleet.pool.send(.ping, to: endpoint)
        await fleet.pool.closeAll()
    }

    @Test func requestsTimeOutInsteadOfHanging() async throws {
        let scratch = Scratch("timeout")
        let device = TestDevice()
        let fleet = try await fleet(scratch, count: 1, device: device)
        let endpoint = fleet.endpoints[0]
        _ = try await fleet.pool.send(.ping, to: endpoint)
        // A stopped (SIGSTOP) host accepts nothing and answers nothing.
        kill(fleet.hosts[0].pid, SIGSTOP)
        defer { kill(fleet.hosts[0].pid, SIGCONT) }
        // Signal delivery is asynchronous: wait until the kernel reports every thread stopped.
        #expect(waitUntilStopped(fleet.hosts[0].pid), "the host did not stop")
        let start = ContinuousClock.now
        do {
            _ = try await fleet.pool.send(.ping, to: endpoint, timeout: .milliseconds(500))
            Issue.record("a stopped host answered")
        } catch {
            guard case .timedOut = error else {
                Issue.record("expected a timeout, got \(error)")
                return
            }
        }
        // A hang detector, not a speed test: a busy shared machine may take seconds to time out.
        #expect(ContinuousClock.now - start < .seconds(30))
        kill(fleet.hosts[0].pid, SIGCONT)
        await fleet.pool.closeAll()
    }
}

/// Whether every thread of `pid` reaches the stopped state (T) within two seconds.
func waitUntilStopped(_ pid: Int32) -> Bool {
    let deadline = Date().addingTimeInterval(2)
    while Date() < deadline {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        let states = tasks.compactMap { try? String(contentsOfFile: "/proc/\(pid)/task/\($0)/stat", encoding: .utf8) }
            .compactMap { $0.split(separator: ")").last?.split(separator: " ").first }
        if !states.isEmpty && states.allSatisfy({ $0 == "T" || $0 == "t" }) { return true }
        Thread.sleep(forTimeInterval: 0.01)
    }
    return false
}
