import Foundation
import Logging
import NIOCore
import NIOPosix
import TestSupport
import Testing
import VishwaCore
import VishwaCrypto
import VishwaTransport
import VishwaWire

#if canImport(Glibc)
import Glibc
#endif

/// Our wire protocol against an independent implementation: `Interop/noise_peer.py`, a peer on
/// Python's `noiseprotocol` package (docs/wire.md §1–6), as a device talking to a real
/// `vishwa-shard`, as a hostile device, and as a host our Swift client talks to.
///
/// Serialized: each test runs a daemon and a Python process, and the hostile cases time how long
/// the host takes to hang up, which two cores shared with other suites would blur.
@Suite(.ownThreads, .serialized)
struct InteropTests {
    /// Each hostile scenario, and the reason the host must log when it closes the connection
    /// (wire.md §1 and §3: "closes the connection with one log line"). A half-closed stream
    /// (`truncated`) is an end of input, not an error: no log line is required.
    static let hostileScenarios: [(name: String, logged: String?)] = [
        ("garbage", "transport message rejected"),
        ("truncated", nil),
        ("oversized", "exceeds the limit"),
        ("replay", "transport message rejected"),
        ("badop", "unknown operation code 200"),
        ("trailing", "trailing bytes"),
        ("clearflip", "transport message rejected"),
    ]

    @Test func pythonClientRunsEveryOperationAgainstHost() async throws {
        try PythonPeer.requireNoiseprotocol()
        let scratch = Scratch("interop")
        let host = try ShardHostProcess(in: scratch, name: "host")
        defer { host.stop() }

        let run = try await PythonPeer.client(code: try host.invite(), scenario: "ops", vault: .random(), in: scratch)
        let summary = try run.decode(ClientSummary.self)
        #expect(summary.error == nil, "python client failed: \(summary.error ?? "")\n\(run.stderr)")
        #expect(summary.ok, "\(run.stdout)")
        #expect(summary.getMatches == true)
        #expect(summary.rangeMatches == true)
        #expect(summary.has == [700 * 1024, -1])
        #expect(summary.listed == true)
        #expect(summary.deleted == 1)
        #expect(summary.getAfterDeleteStatus == Int(Status.notFound.rawValue))
        #expect(summary.clearMatches == true, "a shard sent and received in clear records")
        // wire.md §1.1: the host's answer leaves only the segments in clear, never the 84-byte header.
        #expect(summary.clearAnswerLengths == [300 * 1024 - 84])
        #expect(summary.mixedRecordMatches == true, "a clear record holding a whole frame and the start of another")
        #expect(summary.batch1Order.map { Set($0) } == [1, 2, 3])
        #expect(summary.batch2Order.map { Set($0) } == [10, 11, 12, 13])
        #expect(summary.stat?.version.hasPrefix("vishwa-shard") == true)
        #expect(summary.stat?.quota == nil)
        #expect(run.status == 0)
        #expect(host.isRunning)
    }

    @Test(arguments: hostileScenarios.map(\.name))
    func hostClosesOnlyTheHostileConnection(scenario: String) async throws {
        try PythonPeer.requireNoiseprotocol()
        let scratch = Scratch("interop")
        let host = try ShardHostProcess(in: scratch, name: "host")
        defer { host.stop() }
        let vault = VaultID.random()

        // Device A stores a shard before the attack and keeps its connection open through it.
        let deviceA = try await Self.pair(host, vault: vault)
        let shardID = WireShardID.random()
        let shard = ByteBuffer(bytes: (0..<100_000).map { _ in UInt8.random(in: 0...255) })
        try await deviceA.put(shardID, shard)

        // The Python device pairs for the same vault, proves its session works, then attacks.
        let run = try await PythonPeer.client(code: try host.invite(), scenario: scenario, vault: vault, in: scratch)
        let summary = try run.decode(HostileSummary.self)
        #expect(summary.error == nil, "python client failed: \(summary.error ?? "")\n\(run.stderr)")
        #expect(summary.closed == true, "the host kept the \(scenario) connection open")
        #expect(summary.answeredBytes == 0, "the host answered the \(scenario) frame")
        #expect(host.isRunning, "the daemon died: \(host.serveLog)")

        // The hostile connection alone was closed: A's session goes on, and a new device pairs and reads.
        try await deviceA.ping()
        let deviceC = try await Self.pair(host, vault: vault)
        try await deviceC.ping()
        let readBack = try await deviceC.get(shardID)
        #expect(readBack == shard, "the shard stored before the attack changed")
        await deviceA.close()
        await deviceC.close()

        if let reason = Self.hostileScenarios.first(where: { $0.name == scenario })?.logged {
            let logged = try await eventually { host.serveLog.contains(reason) }
            #expect(logged, "no log line with '\(reason)'; log:\n\(host.serveLog)")
        }
    }

    @Test func swiftClientTalksToPythonResponder() async throws {
        try PythonPeer.requireNoiseprotocol()
        let scratch = Scratch("interop")
        let server = try await PythonPeer.server(in: scratch)
        defer { server.kill() }
        let vault = VaultID.random()

        let connection = try await HostConnection.connect(
            to: server.address, hostKey: server.hostKey, device: .generate(),
            hello: ClientHello(vaultID: vault, intent: .session),
            group: MultiThreadedEventLoopGroup.singleton, logger: Self.logger)
        try await connection.ping()
        let stat = try await connection.stat()
        #expect(stat.version == "python")
        #expect(stat.capacityBytes == 1 << 40)
        #expect(stat.freeBytes == 1 << 39)
        #expect(stat.quotaBytes == nil)
        await connection.close()

        let run = try await server.waitForExit(timeout: 10)
        let summary = try run.decode(ServerSummary.self)
        #expect(summary.error == nil, "python server failed: \(summary.error ?? "")\n\(run.stderr)")
        #expect(summary.ok)
        #expect(summary.hello?.intent == 0)
        #expect(summary.hello?.vault == vault.description)
        #expect(summary.hello?.length == 18)
        #expect(summary.answered == ["ping": 1, "stat": 1])
    }

    @Test func swiftClientRefusesPythonResponderWithOtherKey() async throws {
        try PythonPeer.requireNoiseprotocol()
        let scratch = Scratch("interop")
        let server = try await PythonPeer.server(in: scratch)
        defer { server.kill() }

        let pinned = X25519KeyPair.generate().publicKey
        #expect(pinned != server.hostKey)
        do {
            let connection = try await HostConnection.connect(
                to: server.address, hostKey: pinned, device: .generate(),
                hello: ClientHello(vaultID: .random(), intent: .session),
                group: MultiThreadedEventLoopGroup.singleton, timeout: .seconds(5), logger: Self.logger)
            await connection.close()
            Issue.record("connected to a host whose key is not the pinned one")
        } catch {
            switch error {
            case .handshakeFailed, .connectionClosed: break
            default: Issue.record("expected handshakeFailed or connectionClosed, got \(error)")
            }
        }

        // wire.md §2: the device sends message 3 (its key and hello) only to the pinned host.
        let run = try await server.waitForExit(timeout: 10)
        let summary = try run.decode(ServerSummary.self)
        #expect(summary.hello == nil, "the device sent its hello to an unpinned host")
        #expect(summary.error?.hasPrefix("EOFError") == true, "\(run.stdout)")
    }

    /// wire.md §2: a device refuses a host of another wire version (here 2, which sent shard
    /// headers in clear) before sending its hello, and says so in one line.
    @Test func swiftClientRefusesAVersion2Responder() async throws {
        try PythonPeer.requireNoiseprotocol()
        let scratch = Scratch("interop")
        let server = try await PythonPeer.server(in: scratch, wireVersion: 2)
        defer { server.kill() }
        do {
            let connection = try await HostConnection.connect(
                to: server.address, hostKey: server.hostKey, device: .generate(),
                hello: ClientHello(vaultID: .random(), intent: .session),
                group: MultiThreadedEventLoopGroup.singleton, timeout: .seconds(5), logger: Self.logger)
            await connection.close()
            Issue.record("connected to a host of wire version 2")
        } catch {
            #expect(error.description == "secure handshake with \(server.address) failed: the host speaks wire version 2 "
                + "and this program 3: update vishwa-shard on that host")
        }
        let run = try await server.waitForExit(timeout: 10)
        let summary = try run.decode(ServerSummary.self)
        #expect(summary.hello == nil, "the device sent its hello to a host of another version")
    }

    // MARK: Helpers

    static let logger = Logger(label: "interop-tests") { _ in SwiftLogNoOpLogHandler() }

    /// A new device paired with `host` for `vault` through a fresh invitation.
    static func pair(_ host: ShardHostProcess, vault: VaultID) async throws -> HostConnection {
        let code = try PairingCode(parsing: try host.invite())
        let device = X25519KeyPair.generate()
        return try await HostConnection.connect(
            to: code.address, hostKey: code.hostKey, device: device,
            hello: .pairing(vaultID: vault, secret: code.secret, hostKey: code.hostKey, device: device,
                            vaultKey: testVaultKey(vault)),
            group: MultiThreadedEventLoopGroup.singleton, logger: logger)
    }
}

/// Polls `condition` for up to `seconds` (the daemon's log reaches its file asynchronously).
private func eventually(seconds: Double = 3, _ condition: () -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try await Task.sleep(for: .milliseconds(50))
    }
    return true
}

extension Identifier128 {
    fileprivate static func random() -> Self { Self(high: .random(in: 0...UInt64.max), low: .random(in: 0...UInt64.max)) }
}

// MARK: - The Python peer

/// The JSON line of `noise_peer.py client … ops`.
private struct ClientSummary: Decodable {
    struct Stat: Decodable {
        let capacity: UInt64
        let free: UInt64
        let used: UInt64
        let shards: UInt64
        let quota: UInt64?
        let version: String
    }
    let ok: Bool
    let error: String?
    let batch1Order: [Int]?
    let batch2Order: [Int]?
    let stat: Stat?
    let getMatches: Bool?
    let rangeMatches: Bool?
    let has: [Int]?
    let listed: Bool?
    let deleted: Int?
    let getAfterDeleteStatus: Int?
    let clearMatches: Bool?
    let clearAnswerLengths: [Int]?
    let mixedRecordMatches: Bool?
}

/// The JSON line of `noise_peer.py client … <hostile scenario>`.
private struct HostileSummary: Decodable {
    let ok: Bool
    let error: String?
    let closed: Bool?
    let answeredBytes: Int?
}

/// The JSON line of `noise_peer.py server`.
private struct ServerSummary: Decodable {
    struct Hello: Decodable {
        let intent: Int
        let vault: String
        let length: Int
    }
    let ok: Bool
    let error: String?
    let hello: Hello?
    let answered: [String: Int]
}

/// One run of `noise_peer.py`: its exit status and output.
private struct PeerRun {
    let status: Int32
    let stdout: String
    let stderr: String

    /// Decodes the last line of standard output, the peer's JSON summary.
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let line = stdout.split(separator: "\n").last.map(String.init) ?? ""
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(type, from: Data(line.utf8))
        } catch {
            throw TestFailure("noise_peer.py printed no summary (status \(status)): '\(stdout)'; stderr: \(stderr)")
        }
    }
}

/// A running `noise_peer.py`; killed by pid when released, its output kept in the scratch folder.
private final class PythonPeer: @unchecked Sendable {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Interop/noise_peer.py").path

    private let process = Process()
    private let outPath: String
    private let errPath: String
    /// Set by `server(in:)`: where it listens and its static public key.
    private(set) var address = HostAddress(host: "127.0.0.1", port: 0)
    private(set) var hostKey: [UInt8] = []

    private init(_ arguments: [String], in scratch: Scratch) throws {
        let label = UUID().uuidString.prefix(8)
        outPath = scratch.path + "/peer-\(label).out"
        errPath = scratch.path + "/peer-\(label).err"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script] + arguments
        // Files, not pipes: nothing to drain while the test awaits, and nothing lost at a kill.
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// Runs `client CODE SCENARIO VAULT` to completion (at most `timeout` seconds).
    static func client(code: String, scenario: String, vault: VaultID, in scratch: Scratch,
                       timeout: Double = 60) async throws -> PeerRun {
        let peer = try PythonPeer(["client", code, scenario, vault.description], in: scratch)
        return try await peer.waitForExit(timeout: timeout)
    }

    /// Starts `server PORT_FILE [WIRE_VERSION]` and waits until it listens.
    static func server(in scratch: Scratch, wireVersion: Int? = nil) async throws -> PythonPeer {
        let portFile = scratch.path + "/peer-port-" + UUID().uuidString.prefix(8)
        let peer = try PythonPeer(["server", portFile] + (wireVersion.map { [String($0)] } ?? []), in: scratch)
        let listening = try await eventually(seconds: 20) {
            FileManager.default.fileExists(atPath: portFile) || !peer.process.isRunning
        }
        let fields = ((try? String(contentsOfFile: portFile, encoding: .utf8)) ?? "").split(separator: " ")
        guard listening, fields.count == 2, let port = Int(fields[0]),
              let key = Hex.decode(fields[1].trimmingCharacters(in: .whitespacesAndNewlines)), key.count == 32 else {
            peer.kill()
            throw TestFailure("noise_peer.py server did not start: \(peer.output(peer.errPath))")
        }
        peer.address = HostAddress(host: "127.0.0.1", port: port)
        peer.hostKey = key
        return peer
    }

    /// Waits for the peer to exit by itself; kills it and fails after `timeout` seconds.
    func waitForExit(timeout: Double) async throws -> PeerRun {
        let exited = try await eventually(seconds: timeout) { !process.isRunning }
        guard exited else {
            kill()
            throw TestFailure("noise_peer.py did not finish within \(timeout) s; stderr: \(output(errPath))")
        }
        return PeerRun(status: process.terminationStatus, stdout: output(outPath), stderr: output(errPath))
    }

    private func output(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    /// SIGKILL by pid and reap, if still running.
    func kill() {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { kill() }

    /// Checks once per test run that `python3` can import `noise` (the `noiseprotocol` package),
    /// installing it with pip if needed. Throws a message saying what to install otherwise.
    static func requireNoiseprotocol() throws {
        if case .failure(let failure) = noiseprotocolAvailability { throw failure }
    }

    private static let noiseprotocolAvailability: Result<Void, TestFailure> = {
        func python(_ arguments: [String]) -> CommandResult? {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3"] + arguments
            let err = Pipe()
            process.standardOutput = FileHandle.nullDevice
            process.standardError = err
            process.standardInput = FileHandle.nullDevice
            guard (try? process.run()) != nil else { return nil }
            let errData = err.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return CommandResult(status: process.terminationStatus, stdout: "",
                                 stderr: String(decoding: errData, as: UTF8.self))
        }
        let importCheck = ["-c", "import noise.connection, cryptography"]
        if python(importCheck)?.status == 0 { return .success(()) }
        let install = python(["-m", "pip", "install", "--quiet", "noiseprotocol"])
        if python(importCheck)?.status == 0 { return .success(()) }
        return .failure(TestFailure(
            "InteropTests need python3 with the 'noiseprotocol' package, and "
                + "'python3 -m pip install --quiet noiseprotocol' failed: "
                + (install.map { $0.stderr.isEmpty ? "exit status \($0.status)" : $0.stderr } ?? "python3 not found")))
    }()
}
