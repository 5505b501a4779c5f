import Foundation
import NIOCore
import Synchronization
import TestSupport
import Testing
import VishwaCore
import VishwaTransport
import VishwaWire

#if canImport(Glibc)
import Glibc
#endif

/// What someone on the path between a device and its hosts sees (docs/wire.md §1.1): the lengths
/// and timing of records, and sealed segment bytes; never a shard header, a vault id or a file id.
@Suite(.ownThreads, .serialized, .timeLimit(.minutes(5))) struct EavesdropTests {
    /// A real upload and download with the CLI, every host reached through a relay on 127.0.0.1
    /// that records each byte both ways; then range reads of a shard's first bytes.
    @Test func theWireShowsNoHeaderVaultOrFileID() async throws {
        let scratch = Scratch("eavesdrop")
        let home = try makeVault(in: scratch)
        var hosts: [ShardHostProcess] = []
        var relays: [TCPRelay] = []
        defer { relays.forEach { $0.stop() } }
        for i in 0..<3 {
            let host = try ShardHostProcess(in: scratch, name: "h\(i)")
            let relay = try TCPRelay(to: host.port)
            hosts.append(host)
            relays.append(relay)
            let code = try run("vishwa-shard", ["invite", "--dir", host.dir, "--address", "127.0.0.1:\(relay.port)"])
            #expect(code.status == 0, "\(code.stderr)")
            let added = try run("vishwa", ["host", "add", "--home", home, code.stdout.trimmingCharacters(in: .whitespacesAndNewlines)])
            #expect(added.status == 0, "\(added.stderr)")
        }
        let local = scratch.path + "/f"
        let data = Data((0..<((5 << 20) + 12345)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) })
        try data.write(to: URL(fileURLWithPath: local))
        let uploaded = try run("vishwa", ["upload", local, "--home", home])
        #expect(uploaded.status == 0, "\(uploaded.stderr)")
        let out = scratch.path + "/out"
        let downloaded = try run("vishwa", ["download", "/f", out, "--home", home])
        #expect(downloaded.status == 0, "\(downloaded.stderr)")
        #expect(FileManager.default.contents(atPath: out) == data)

        // The vault id is in the key file (format.md §1), the file id in the catalog.
        let keyFile = try #require(FileManager.default.contents(atPath: home + "/vault.key"))
        let vaultID = Data(keyFile[keyFile.startIndex + 8..<keyFile.startIndex + 24])
        let fileIDHex = try runShell("""
            python3 -c "import sqlite3; print(sqlite3.connect('\(home)/catalog.sqlite').execute(\\"SELECT hex(fileID) FROM node WHERE kind = 'file'\\").fetchone()[0])"
            """, in: scratch.path).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let fileID = try #require(Hex.decode(fileIDHex)).map { $0 }
        #expect(fileID.count == 16)

        let captured = relays.map { $0.captured }
        let total = captured.reduce(0) { $0 + $1.count }
        // Every shard went up and the data shards came back: the capture holds the shards' bytes.
        #expect(total > 2 * data.count, "captured only \(total) bytes")
        for stream in captured {
            #expect(stream.range(of: vaultID) == nil, "the vault id travels in clear")
            #expect(stream.range(of: Data(fileID)) == nil, "a file id travels in clear")
            // "VWSH", format 3, 6+4: the start of every shard header.
            #expect(stream.range(of: Data("VWSH".utf8) + [3, 6, 4]) == nil, "a shard header travels in clear")
        }

        // Range GETs that start inside a shard's header, straight through a relay.
        let device = TestDevice()
        let relay = relays[0]
        let invite = try run("vishwa-shard", ["invite", "--dir", hosts[0].dir, "--address", "127.0.0.1:\(relay.port)"])
        let (connection, _) = try await device.pair(invite.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        defer { Task { await connection.close() } }
        var shard = ByteBuffer(bytes: Array("VWSH".utf8) + [3, 6, 4, 0, 0, 4, 0, 0] + device.vault.bytes + fileID)
        shard.writeBytes([UInt8](repeating: 0, count: 84 - shard.readableBytes))
        shard.writeBytes((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let id = randomID()
        let before = relay.captured.count
        _ = try await connection.send(.put(id: id, data: shard))
        let whole = try await connection.send(.get(id: id, offset: 0, length: nil))
        let head = try await connection.send(.get(id: id, offset: 0, length: 100_000))
        let inside = try await connection.send(.get(id: id, offset: 40, length: 100_000))
        #expect(whole == shard)
        #expect(head == shard.getSlice(at: 0, length: 100_000))
        #expect(inside == shard.getSlice(at: 40, length: 100_000))
        let seen = relay.captured.dropFirst(before)
        #expect(seen.count > 3 * 100_000)
        #expect(seen.range(of: Data(device.vault.bytes)) == nil, "a vault id in a shard header travels in clear")
        #expect(seen.range(of: Data(fileID)) == nil, "a file id in a shard header travels in clear")
        #expect(seen.range(of: Data("VWSH".utf8)) == nil, "a shard header travels in clear")
        // The segments themselves do travel in clear (they are ciphertext already): not encrypted twice.
        #expect(seen.range(of: Data(shard.getBytes(at: 20_000, length: 64)!)) != nil)
    }
}

/// Forwards TCP connections from a port on 127.0.0.1 to `target` on 127.0.0.1 and keeps every byte
/// that passes, both ways, in one capture. Threads of its own; `stop` closes everything.
final class TCPRelay: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let target: Int
    private let state = Mutex<(captured: Data, sockets: [Int32], stopped: Bool)>((Data(), [], false))
    private let threadsLock = NSLock()
    private var threads: [Thread] = []

    init(to target: Int) throws {
        self.target = target
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw TestFailure("relay: cannot listen")
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        start { [self] in acceptLoop() }
    }

    /// Every byte relayed so far, in the order read (both directions interleaved).
    var captured: Data { state.withLock { $0.captured } }

    func stop() {
        let sockets = state.withLock { state -> [Int32] in
            state.stopped = true
            return state.sockets
        }
        shutdown(listener, Int32(SHUT_RDWR))
        for fd in sockets { shutdown(fd, Int32(SHUT_RDWR)) }
        for thread in threadsLock.withLock({ threads }) { while !thread.isFinished { Thread.sleep(forTimeInterval: 0.01) } }
        close(listener)
        for fd in sockets { close(fd) }
    }

    private func start(_ body: @escaping @Sendable () -> Void) {
        let thread = Thread(block: body)
        threadsLock.withLock { threads.append(thread) }
        thread.start()
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(target).bigEndian
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            let stopped = state.withLock { state -> Bool in
                state.sockets += [client, upstream]
                return state.stopped
            }
            guard connected == 0, !stopped else {
                shutdown(client, Int32(SHUT_RDWR))
                continue
            }
            start { [self] in pump(from: client, to: upstream) }
            start { [self] in pump(from: upstream, to: client) }
        }
    }

    private func pump(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            state.withLock { $0.captured.append(contentsOf: buffer[0..<count]) }
            var sent = 0
            while sent < count {
                let n = buffer.withUnsafeBytes { send(destination, $0.baseAddress! + sent, count - sent, Int32(MSG_NOSIGNAL)) }
                guard n > 0 else { break }
                sent += n
            }
            guard sent == count else { break }
        }
        shutdown(destination, Int32(SHUT_WR))
    }
}
