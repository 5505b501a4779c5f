import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The build folder with the executables (the test bundle's own folder).
let binDirectory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()

struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Runs one of our executables to completion and captures its output.
@discardableResult
func run(_ program: String, _ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
    let process = Process()
    process.executableURL = binDirectory.appendingPathComponent(program)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env.removeValue(forKey: "VISHWA_HOME")
    env.merge(environment) { $1 }
    process.environment = env
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
}

/// A temp folder removed at deinit.
final class Scratch: @unchecked Sendable {
    let path: String
    init(_ label: String = "it") {
        path = NSTemporaryDirectory() + "vishwa-\(label)-" + UUID().uuidString.prefix(8)
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A real `vishwa-shard` process on 127.0.0.1 with its own directory; stopped by pid at deinit.
final class ShardHostProcess: @unchecked Sendable {
    let dir: String
    private(set) var process: Process?
    private(set) var port: Int = 0
    private var logPipe: Pipe?
    /// Signalled when the daemon's log pipe reaches end of file (the daemon exited).
    private var logDrained = DispatchSemaphore(value: 0)

    /// Options added to every `serve` (limits a test sets).
    let serveOptions: [String]

    /// Creates the host directory (`vishwa-shard init`) and starts serving on an ephemeral port.
    init(in scratch: Scratch, name: String, serveOptions: [String] = []) throws {
        dir = scratch.path + "/" + name
        self.serveOptions = serveOptions
        let created = try run("vishwa-shard", ["init", "--dir", dir, "--listen", "127.0.0.1:0", "--reserve", "0"])
        guard created.status == 0 else { throw TestFailure("vishwa-shard init failed: \(created.stderr)") }
        try start()
    }

    var address: String { "127.0.0.1:\(port)" }

    /// Starts (or restarts) `serve`, on the same port when it had one, and waits for "listening on".
    func start() throws {
        let process = Process()
        process.executableURL = binDirectory.appendingPathComponent("vishwa-shard")
        var arguments = ["serve", "--dir", dir, "--log-level", "notice"] + serveOptions
        if port != 0 { arguments += ["--listen", "127.0.0.1:\(port)"] }
        process.arguments = arguments
        let out = Pipe()
        let log = Pipe()
        process.standardOutput = out
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
        self.logPipe = log
        // Drain the log in the background so the daemon never blocks on a full pipe.
        let logHandle = log.fileHandleForReading
        let logPath = dir + "/serve.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let logFile = FileHandle(forWritingAtPath: logPath)
        let drained = DispatchSemaphore(value: 0)
        logDrained = drained
        logHandle.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                drained.signal()
            } else {
                logFile?.write(data)
            }
        }
        let line = try readLine(out.fileHandleForReading, timeout: 20)
        guard line.hasPrefix("listening on "), let colon = line.lastIndex(of: ":"),
              let port = Int(line[line.index(after: colon)...]) else {
            kill()
            throw TestFailure("vishwa-shard did not start: '\(line)'; log: \(serveLog)")
        }
        self.port = port
    }

    /// The daemon's log so far; once it has exited, all of it (waits for the reader to drain the pipe).
    var serveLog: String {
        if let process, !process.isRunning { _ = logDrained.wait(timeout: .now() + 5); logDrained.signal() }
        return (try? String(contentsOfFile: dir + "/serve.log", encoding: .utf8)) ?? ""
    }
    var pid: Int32 { process?.processIdentifier ?? 0 }
    var isRunning: Bool { process?.isRunning ?? false }

    /// SIGTERM and wait up to 10 s for a clean shutdown; SIGKILL after that (and the test fails
    /// on the exit status).
    func stop() {
        guard let process, process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { kill() }
    }

    /// SIGKILL and wait (a crash).
    func kill() {
        guard let process, process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// A pairing code for a vault, valid for `valid` (e.g. "24h", "2s").
    func invite(quota: String? = nil, valid: String? = nil) throws -> String {
        var arguments = ["invite", "--dir", dir, "--address", address]
        if let quota { arguments += ["--quota", quota] }
        if let valid { arguments += ["--valid", valid] }
        let result = try run("vishwa-shard", arguments)
        guard result.status == 0 else { throw TestFailure("invite failed: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    deinit { kill() }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Reads one line from `handle`, failing after `timeout` seconds.
func readLine(_ handle: FileHandle, timeout: Double) throws -> String {
    let fd = handle.fileDescriptor
    var line: [UInt8] = []
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pfd, 1, 100)
        if ready <= 0 { continue }
        var byte: UInt8 = 0
        let n = read(fd, &byte, 1)
        if n <= 0 { break }
        if byte == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
        line.append(byte)
    }
    return String(decoding: line, as: UTF8.self)
}

/// A vault home made with `vishwa init --no-passphrase`.
func makeVault(in scratch: Scratch, name: String = "home") throws -> String {
    let home = scratch.path + "/" + name
    let result = try run("vishwa", ["init", "--home", home, "--no-passphrase", "--json"])
    guard result.status == 0 else { throw TestFailure("vishwa init failed: \(result.stderr)") }
    // Beside the home, for tests that delete it and recover.
    try Data(result.stdout.utf8).write(to: URL(fileURLWithPath: home + ".init.json"))
    return home
}

/// Whether two byte strings are equal. Large files go through this rather than straight into
/// `#expect(a == b)`: on failure, Swift Testing diffs both operands, which takes minutes for megabytes.
func sameBytes(_ a: Data?, _ b: Data?) -> Bool { a == b }

/// The recovery code `makeVault` saw `vishwa init` print.
func recoveryCode(ofVaultAt home: String) throws -> String {
    let printed = try Data(contentsOf: URL(fileURLWithPath: home + ".init.json"))
    guard let code = (try JSONSerialization.jsonObject(with: printed) as? [String: Any])?["recovery_code"] as? String else {
        throw TestFailure("vishwa init printed no recovery code")
    }
    return code
}

/// `count` new hosts in `scratch`, each paired with the vault at `home` through `vishwa host add`.
func pairedHosts(_ count: Int, in scratch: Scratch, home: String) throws -> [ShardHostProcess] {
    try (0..<count).map { i in
        let host = try ShardHostProcess(in: scratch, name: "h\(i)")
        let added = try run("vishwa", ["host", "add", "--home", home, try host.invite()])
        guard added.status == 0 else { throw TestFailure("host add: \(added.stderr)") }
        return host
    }
}
