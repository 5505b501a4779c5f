import Foundation
import NIOCore
import Synchronization
import TestSupport
import Testing
import VishwaCore
import VishwaCrypto
import VishwaTransport
import VishwaWire

#if canImport(Glibc)
import Glibc
#endif

/// Hostile peers against a real `vishwa-shard`: each tries to make the host hold memory or
/// threads for it. The host's resident memory must stay under a stated bound, and a well-behaved
/// device of another vault must keep getting answers within a few seconds meanwhile.
@Suite(.ownThreads, .timeLimit(.minutes(5)), .serialized) struct HostLimitTests {
    /// What the host may hold at most while attacked (VmRSS). An idle host uses about 20 MiB; the
    /// limits allow a vault 32 running requests (each a 1 MiB shard read and its copy) and a
    /// connection 8 MiB of unsent answers, so a bounded host stays well under this.
    static let rssBound = 250 << 20
    /// What a well-behaved device's PING, PUT and GET may take together while the host is attacked.
    static let serviceBound = 5.0

    /// Pipelines 3000 whole-shard GETs of 1 MiB shards and never reads an answer.
    @Test func aPeerThatNeverReadsItsAnswersCannotGrowTheHost() async throws {
        let setup = try await Setup()
        let ids = try await setup.attackerStores(shards: 4, size: 1 << 20)
        let peer = try RawPeer(port: setup.host.port, receiveBuffer: 4096)
        try peer.openSession(setup.attacker, hostKey: setup.code.hostKey)
        var frames: [UInt8] = []
        for n in 0..<3000 {
            var body = ByteBuffer()
            body.writeShardID(ids[n % ids.count])
            body.writeInteger(UInt64(0))
            body.writeInteger(UInt64.max)
            frames += RawPeer.frame(id: UInt32(n + 1), code: Operation.get.rawValue, body: Array(body.readableBytesView))
        }
        try peer.sendEncrypted(frames)

        let peak = try await setup.watch(for: 6)
        #expect(peak < Self.rssBound, "host RSS reached \(peak >> 20) MiB")
        #expect(setup.host.isRunning)
    }

    /// Completes the handshake and, before the welcome, sends megabytes: the host closes it at once.
    @Test func bytesBeforeTheWelcomeCloseTheConnection() async throws {
        let setup = try await Setup()
        let junk = [UInt8](repeating: 0x5a, count: 64 << 10)
        let peers = try (0..<8).map { _ in try RawPeer(port: setup.host.port) }
        let sent = Tally()
        let flood = Task.detached {
            await withTaskGroup(of: Void.self) { group in
                for peer in peers {
                    group.addTask {
                        // Blocking sockets: on threads of their own, never the cooperative pool.
                        let total = await onOwnThread { () -> Int in
                            var total = 0
                            do {
                                try peer.handshake(setup.attacker, intent: .session, hostKey: setup.code.hostKey)
                                while total < 64 << 20 {
                                    try peer.send(junk, timeout: 5)
                                    total += junk.count
                                }
                            } catch {}
                            return total
                        }
                        sent.values.withLock { $0.append(total) }
                    }
                }
            }
        }
        let peak = try await setup.watch(for: 4)
        await flood.value
        #expect(peak < Self.rssBound, "host RSS reached \(peak >> 20) MiB")
        // Each was cut off long before its 64 MiB: what it got out is what the sockets buffered.
        #expect(sent.values.withLock { $0 }.count == 8)
        #expect(sent.values.withLock { $0 }.allSatisfy { $0 < 16 << 20 }, "\(sent.values.withLock { $0 })")
        #expect(setup.host.isRunning)
    }

    /// Opens 300 connections from one address and holds them: past the limits the host closes
    /// them at once, and a device from another address is served as usual.
    @Test func aConnectionFloodFromOneAddressIsRefused() async throws {
        let setup = try await Setup()
        var peers: [RawPeer] = []
        for _ in 0..<300 {
            peers.append(try RawPeer(port: setup.host.port, from: "127.0.0.2"))
        }
        let peak = try await setup.watch(for: 2)
        let open = peers.filter { !$0.closedByHost(within: 0.01) }.count
        #expect(open <= 40, "\(open) of 300 connections from one address stay open")
        #expect(peak < Self.rssBound, "host RSS reached \(peak >> 20) MiB")
        peers.removeAll()
        // The address's bucket refills: after a short wait it may connect again.
        try await Task.sleep(for: .milliseconds(1500))
        let later = try RawPeer(port: setup.host.port, from: "127.0.0.2")
        #expect(!later.closedByHost(within: 0.5))
    }

    /// 24 connections from four addresses each start a 64 MiB PUT, half as a clear record and
    /// half as encrypted messages, send most of it and stall. Without a host-wide receive budget
    /// the host holds every partial frame (about 1.4 GiB); with it (256 MiB) it stops reading them.
    @Test func manyStalledLargeFramesCannotGrowTheHost() async throws {
        let setup = try await Setup()
        var peers: [RawPeer] = []
        for address in ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"] {
            for _ in 0..<6 {
                let peer = try RawPeer(port: setup.host.port, from: address)
                try peer.openSession(setup.attacker, hostKey: setup.code.hostKey)
                peers.append(peer)
            }
        }
        let pump = LargeFramePump(peers: peers, bytesEach: 60 << 20)
        pump.start()
        let peak = try await setup.watch(for: 8)
        pump.stop()
        print("attackers sent \(pump.sent >> 20) MiB in all")
        #expect(peak < Self.largeFrameRSSBound, "host RSS reached \(peak >> 20) MiB")
        #expect(setup.host.isRunning)
    }

    /// What the host may hold while stalled large frames arrive: its 256 MiB receive budget, a
    /// few MiB a connection always read, and the idle host.
    static let largeFrameRSSBound = 420 << 20

    /// 32 SCRUBs over two connections of one vault: they run one at a time, and neither the
    /// disk pool nor authorization is taken from other devices.
    @Test func manyScrubsDoNotStarveOtherDevices() async throws {
        let setup = try await Setup()
        _ = try await setup.attackerStores(shards: 16, size: 1 << 20)
        let connections = [try await setup.attacker.connect(setup.code), try await setup.attacker.connect(setup.code)]
        let scrubs = Task.detached {
            await withTaskGroup(of: Void.self) { group in
                for connection in connections {
                    for _ in 0..<16 { group.addTask { _ = try? await connection.scrub(timeout: .seconds(120)) } }
                }
            }
        }
        let peak = try await setup.watch(for: 5, newConnections: true)
        #expect(peak < Self.rssBound, "host RSS reached \(peak >> 20) MiB")
        for connection in connections { await connection.close() }
        await scrubs.value
    }
}

/// The store's limits as a device sees them over the wire, with the operator's flags.
@Suite(.ownThreads, .timeLimit(.minutes(2))) struct HostStoreLimitTests {
    @Test func emptyShardsAndShardsPastTheCapAreRefused() async throws {
        let scratch = Scratch("shardcap")
        let host = try ShardHostProcess(in: scratch, name: "host", serveOptions: ["--max-shards-per-vault", "2"])
        defer { host.stop() }
        let (connection, _) = try await TestDevice().pair(try host.invite())
        defer { Task { await connection.close() } }
        do {
            try await connection.put(randomID(), ByteBuffer())
            Issue.record("an empty shard was stored")
        } catch {
            #expect(error.status == .badRequest)
        }
        try await connection.put(randomID(), randomShard(10))
        try await connection.put(randomID(), randomShard(10))
        do {
            try await connection.put(randomID(), randomShard(10))
            Issue.record("a third shard was stored past --max-shards-per-vault 2")
        } catch {
            #expect(error.status == .quotaExceeded)
        }
        let stat = try await connection.stat()
        #expect(stat.shardCount == 2)
        #expect(stat.usedBytes == 2 * 4096)
    }

    @Test func limitsBelowOneAreRefused() throws {
        let result = try run("vishwa-shard", ["serve", "--dir", "/nonexistent", "--max-requests-per-vault", "0"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--max-requests-per-vault must be at least 1, not 0"), "\(result.stderr)")
    }
}

/// The receive budget as an honest device and an operator see it.
@Suite(.ownThreads, .timeLimit(.minutes(3))) struct ReceiveBudgetTests {
    /// Six 24 MiB PUTs at once over two connections, against a budget of 40 MiB: they wait for
    /// room (back-pressure) and all succeed.
    @Test func largePutsPastTheBudgetWaitAndSucceed() async throws {
        let scratch = Scratch("budget")
        let host = try ShardHostProcess(in: scratch, name: "host", serveOptions: ["--receive-budget-mib", "40"])
        defer { host.stop() }
        let device = TestDevice()
        let (first, code) = try await device.pair(try host.invite())
        let second = try await device.connect(code)
        defer { Task { await first.close(); await second.close() } }
        let shards = (0..<6).map { _ in (randomID(), largeShard(24 << 20)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (n, (id, shard)) in shards.enumerated() {
                let connection = n % 2 == 0 ? first : second
                group.addTask { try await connection.put(id, shard) }
            }
            try await group.waitForAll()
        }
        for (id, shard) in shards {
            #expect(try await first.get(id) == shard)
        }
    }

    /// A budget smaller than a frame a peer announces: the host closes that connection at once.
    @Test func aFrameThatCanNeverFitClosesTheConnection() async throws {
        let scratch = Scratch("budget")
        let host = try ShardHostProcess(in: scratch, name: "host", serveOptions: ["--receive-budget-mib", "8"])
        defer { host.stop() }
        let device = TestDevice()
        let (connection, code) = try await device.pair(try host.invite())
        defer { Task { await connection.close() } }
        let peer = try RawPeer(port: host.port)
        try peer.openSession(device, hostKey: code.hostKey)
        try peer.send(RawPeer.clearRecordStart(clearLength: 16 << 20), timeout: 5)
        #expect(peer.closedByHost(within: 5))
        try await connection.ping()
    }

    /// A peer that stops in the middle of a large frame gives its share of the budget back: the
    /// host closes it after `--stalled-frame-seconds`, while an idle session stays open.
    @Test func aPeerStalledInTheMiddleOfAFrameIsClosed() async throws {
        let scratch = Scratch("budget")
        let host = try ShardHostProcess(in: scratch, name: "host", serveOptions: ["--stalled-frame-seconds", "2"])
        defer { host.stop() }
        let device = TestDevice()
        let (connection, code) = try await device.pair(try host.invite())
        defer { Task { await connection.close() } }
        let stalled = try RawPeer(port: host.port)
        try stalled.openSession(device, hostKey: code.hostKey)
        let idle = try RawPeer(port: host.port)
        try idle.openSession(device, hostKey: code.hostKey)
        try stalled.send(RawPeer.clearRecordStart(clearLength: 32 << 20) + [UInt8](repeating: 0, count: 4 << 20), timeout: 10)
        #expect(!stalled.closedByHost(within: 0.5))
        #expect(stalled.closedByHost(within: 10))
        #expect(!idle.closedByHost(within: 0.1))
        try await connection.ping()
    }

    @Test func aBudgetBelowOneIsRefused() throws {
        let result = try run("vishwa-shard", ["serve", "--dir", "/nonexistent", "--receive-budget-mib", "0"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--receive-budget-mib must be at least 1, not 0"), "\(result.stderr)")
    }
}

/// `size` bytes: a random 64 KiB block repeated (random bytes one at a time take too long here).
func largeShard(_ size: Int) -> ByteBuffer {
    let block = randomShard(64 << 10)
    var buffer = ByteBuffer()
    buffer.reserveCapacity(size)
    while buffer.readableBytes < size {
        buffer.writeImmutableBuffer(block.getSlice(at: 0, length: min(block.readableBytes, size - buffer.readableBytes))!)
    }
    return buffer
}

/// Sends the start of a 64 MiB PUT on each of `peers`, `bytesEach` of it, then stops sending
/// (never completing it): even peers as a clear record, odd peers as encrypted transport
/// messages. Runs on a thread of its own, never blocking on one socket.
final class LargeFramePump: @unchecked Sendable {
    private let peers: [RawPeer]
    private let bytesEach: Int
    private let stopped = Mutex(false)
    private let total = Mutex(0)
    private let done = DispatchSemaphore(value: 0)

    init(peers: [RawPeer], bytesEach: Int) {
        self.peers = peers
        self.bytesEach = bytesEach
    }

    var sent: Int { total.withLock { $0 } }

    func start() {
        Thread.detachNewThread { [self] in
            run()
            done.signal()
        }
    }

    func stop() {
        stopped.withLock { $0 = true }
        done.wait()
    }

    private func run() {
        var pending: [[UInt8]] = peers.indices.map { $0 % 2 == 0 ? RawPeer.clearRecordStart(clearLength: 64 << 20) : [] }
        var produced = [Int](repeating: 0, count: peers.count)
        var offsets = [Int](repeating: 0, count: peers.count)
        let deadline = Date().addingTimeInterval(60)
        while !stopped.withLock({ $0 }), Date() < deadline {
            var fds = peers.map { pollfd(fd: $0.fd, events: Int16(POLLOUT), revents: 0) }
            guard poll(&fds, nfds_t(fds.count), 100) > 0 else { continue }
            for n in peers.indices where fds[n].revents & Int16(POLLOUT) != 0 {
                if offsets[n] == pending[n].count {
                    guard produced[n] < bytesEach else { continue }
                    pending[n] = n % 2 == 0 ? [UInt8](repeating: 0, count: 1 << 20)
                                            : peers[n].encryptedPutPart(first: produced[n] == 0)
                    offsets[n] = 0
                    produced[n] += 1 << 20
                }
                let count = pending[n][offsets[n]...].withUnsafeBytes {
                    Glibc.send(peers[n].fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                }
                if count > 0 {
                    offsets[n] += count
                    total.withLock { $0 += count }
                }
            }
        }
    }
}

/// Numbers gathered from several tasks.
final class Tally: Sendable {
    let values = Mutex<[Int]>([])
}

/// A host, a well-behaved device paired with it, and an attacking device of another vault.
struct Setup: @unchecked Sendable {
    let scratch = Scratch("limits")
    let host: ShardHostProcess
    let good: TestDevice
    let goodConnection: HostConnection
    let attacker = TestDevice()
    let code: PairingCode

    init() async throws {
        host = try ShardHostProcess(in: scratch, name: "host")
        good = TestDevice()
        (goodConnection, code) = try await good.pair(try host.invite())
        let (connection, _) = try await attacker.pair(try host.invite())
        await connection.close()
    }

    /// Stores `shards` random shards of `size` bytes in the attacker's vault.
    func attackerStores(shards: Int, size: Int) async throws -> [WireShardID] {
        let connection = try await attacker.connect(code)
        defer { Task { await connection.close() } }
        var ids: [WireShardID] = []
        for _ in 0..<shards {
            let id = randomID()
            try await connection.put(id, randomShard(size))
            ids.append(id)
        }
        return ids
    }

    /// For `seconds`, has the good device PING, PUT and GET in turn (each round within
    /// `HostLimitTests.serviceBound`), and returns the host's peak RSS over that time.
    /// With `newConnections`, each round also opens a fresh session (authorization included).
    func watch(for seconds: Double, newConnections: Bool = false) async throws -> Int {
        var peak = 0
        let deadline = Date().addingTimeInterval(seconds)
        var rounds = 0
        while Date() < deadline {
            peak = max(peak, try residentBytes(of: host.pid))
            if peak > 2 * HostLimitTests.rssBound { break }  // failing already: spare the machine
            let started = Date()
            var connection = goodConnection
            if newConnections { connection = try await good.connect(code) }
            try await connection.ping()
            let id = randomID()
            let shard = randomShard(100_000)
            try await connection.put(id, shard)
            #expect(try await connection.get(id) == shard)
            if newConnections { await connection.close() }
            let took = Date().timeIntervalSince(started)
            #expect(took < HostLimitTests.serviceBound, "a well-behaved device waited \(took) s")
            rounds += 1
            // New sessions stay under the address's 5 handshakes a second.
            try await Task.sleep(for: .milliseconds(newConnections ? 250 : 100))
        }
        #expect(rounds > 0)
        peak = max(peak, try residentBytes(of: host.pid))
        print("host peak RSS \(peak >> 20) MiB over \(rounds) rounds of the good device")
        return peak
    }
}

/// VmRSS of process `pid`, from /proc.
func residentBytes(of pid: Int32) throws -> Int {
    let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    else { throw TestFailure("no VmRSS for \(pid)") }
    return kib << 10
}

/// A device written for the tests on a plain blocking socket: the handshake and transport
/// messages of docs/wire.md §1–3 built from the Noise primitives, so it can do what our own
/// client never does (send before the welcome, never read).
final class RawPeer: @unchecked Sendable {
    let fd: Int32
    private var transport: NoiseTransport?

    /// Connects to 127.0.0.1:`port` from the address `from` (any 127.x.y.z is this machine).
    init(port: Int, from source: String = "127.0.0.1", receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var local = Self.address(source, port: 0)
        var remote = Self.address("127.0.0.1", port: port)
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, connected == 0 else {
            // No close here: the object is whole, so deinit runs and closes it. Closing twice
            // would close whatever descriptor took the number in between (an event loop's).
            throw TestFailure("bind/connect from \(source): errno \(errno)")
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    private static func address(_ text: String, port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, text, &address.sin_addr)
        return address
    }

    /// Runs the three handshake messages as `device` of its vault; the host then decides.
    func handshake(_ device: TestDevice, intent: ClientHello.Intent, hostKey: [UInt8]) throws {
        let noise = NoiseHandshake(role: .initiator, staticKeyPair: device.keyPair, prologue: noisePrologue)
        try send(Self.prefixed(try noise.writeMessage()), timeout: 5)
        let length = try read(2, timeout: 5)
        _ = try noise.readMessage(try read(Int(length[0]) << 8 | Int(length[1]), timeout: 5))
        guard noise.remoteStaticKey == hostKey else { throw TestFailure("not the paired host") }
        try send(Self.prefixed(try noise.writeMessage(payload: ClientHello(vaultID: device.vault, intent: intent).encode())),
                 timeout: 5)
        transport = try noise.split()
    }

    /// A session as `device`, welcome read and checked.
    func openSession(_ device: TestDevice, hostKey: [UInt8]) throws {
        try handshake(device, intent: .session, hostKey: hostKey)
        let length = try read(2, timeout: 5)
        let welcome = try transport!.decrypt(try read(Int(length[0]) << 8 | Int(length[1]), timeout: 5))
        guard welcome.count >= 9, welcome[8] == Status.ok.rawValue else { throw TestFailure("not welcomed") }
    }

    /// A frame's bytes: length, id, code, body (docs/wire.md §3).
    static func frame(id: UInt32, code: UInt8, body: [UInt8]) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(5 + body.count))
        buffer.writeInteger(id)
        buffer.writeInteger(code)
        buffer.writeBytes(body)
        return Array(buffer.readableBytesView)
    }

    static func prefixed(_ message: [UInt8]) -> [UInt8] {
        [UInt8(message.count >> 8), UInt8(message.count & 0xff)] + message
    }

    /// The start of a clear record (docs/wire.md §1.1) announcing `clearLength` clear bytes, with
    /// a Noise message of 32 bytes that is never checked: the record is never completed.
    static func clearRecordStart(clearLength: Int) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt16(0))
        buffer.writeInteger(UInt32(clearLength))
        buffer.writeInteger(UInt16(32))
        buffer.writeRepeatingByte(0x5a, count: 32)
        return Array(buffer.readableBytesView)
    }

    /// About 1 MiB of a 64 MiB PUT frame as encrypted transport messages; the frame's header
    /// comes `first`.
    func encryptedPutPart(first: Bool) -> [UInt8] {
        var plaintext = [UInt8](repeating: 0, count: 16 * NoiseTransport.maxPlaintextLength)
        if first {
            let header = Self.frame(id: 1, code: Operation.put.rawValue, body: [])
            let length = UInt32(5 + (64 << 20))
            plaintext.replaceSubrange(0..<9, with: [UInt8(length >> 24), UInt8(length >> 16 & 0xff),
                                                    UInt8(length >> 8 & 0xff), UInt8(length & 0xff)] + header[4..<9])
        }
        var out: [UInt8] = []
        out.reserveCapacity(plaintext.count + 16 * 18)
        var start = 0
        while start < plaintext.count {
            let end = start + NoiseTransport.maxPlaintextLength
            out += Self.prefixed((try? transport!.encrypt(Array(plaintext[start..<end]))) ?? [])
            start = end
        }
        return out
    }

    /// Sends `plaintext` as transport messages, as many as it takes.
    func sendEncrypted(_ plaintext: [UInt8]) throws {
        var out: [UInt8] = []
        var start = 0
        while start < plaintext.count {
            let end = min(start + NoiseTransport.maxPlaintextLength, plaintext.count)
            out += Self.prefixed(try transport!.encrypt(Array(plaintext[start..<end])))
            start = end
        }
        try send(out, timeout: 10)
    }

    /// Writes all of `bytes`, failing when the host closes or does not take them in `timeout` s.
    func send(_ bytes: [UInt8], timeout: Double) throws {
        var offset = 0
        let deadline = Date().addingTimeInterval(timeout)
        while offset < bytes.count {
            var ready = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&ready, 1, 100) >= 0, Date() < deadline else { throw TestFailure("send timed out") }
            if ready.revents & Int16(POLLOUT) == 0 {
                if ready.revents & Int16(POLLERR | POLLHUP) != 0 { throw TestFailure("closed") }
                continue
            }
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw TestFailure("send: errno \(errno)") }
            offset += sent
        }
    }

    /// Reads exactly `count` bytes within `timeout` s.
    func read(_ count: Int, timeout: Double) throws -> [UInt8] {
        var bytes: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        while bytes.count < count {
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard Date() < deadline else { throw TestFailure("read timed out") }
            if poll(&ready, 1, 100) <= 0 { continue }
            var chunk = [UInt8](repeating: 0, count: count - bytes.count)
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard got > 0 else { throw TestFailure("closed by the host") }
            bytes += chunk[..<got]
        }
        return bytes
    }

    /// Whether the host has closed the connection (end of stream or reset) within `seconds`.
    func closedByHost(within seconds: Double) -> Bool {
        var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&ready, 1, Int32(seconds * 1000)) > 0 else { return false }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) <= 0
    }
}
