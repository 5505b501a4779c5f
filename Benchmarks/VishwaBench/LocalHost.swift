import Foundation
import VishwaTransport

#if canImport(Glibc)
import Glibc
#endif

/// A throwaway `vishwa-shard` on 127.0.0.1 for benchmarks: its own temp directory, an ephemeral
/// port, stopped by pid (SIGTERM) and removed by `stop()`.
public final class LocalHost: @unchecked Sendable {
    public let dir: String
    public let address: HostAddress
    private let process: Process

    /// Starts `vishwa-shard` (found beside the running executable) and waits until it listens.
    public init(binary: String) throws {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchError("no vishwa-shard at \(binary): the benchmark starts the one beside this program")
        }
        dir = NSTemporaryDirectory() + "vishwa-bench-" + UUID().uuidString.prefix(8)
        let initProcess = Process()
        initProcess.executableURL = URL(fileURLWithPath: binary)
        initProcess.arguments = ["init", "--dir", dir, "--listen", "127.0.0.1:0", "--reserve", "0"]
        initProcess.standardOutput = FileHandle.nullDevice
        try initProcess.run()
        initProcess.waitUntilExit()
        guard initProcess.terminationStatus == 0 else { throw BenchError("vishwa-shard init failed") }

        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--dir", dir, "--log-level", "warning"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let line = String(decoding: out.fileHandleForReading.readLine(), as: UTF8.self)
        guard line.hasPrefix("listening on "), let address = HostAddress(parsing: String(line.dropFirst(13))) else {
            process.terminate()
            throw BenchError("vishwa-shard did not start: \(line)")
        }
        self.address = address
    }

    /// A fresh pairing code from the host.
    public func invite() throws -> String {
        let binary = process.executableURL!.path
        let invite = Process()
        invite.executableURL = URL(fileURLWithPath: binary)
        invite.arguments = ["invite", "--dir", dir, "--address", address.description]
        let out = Pipe()
        invite.standardOutput = out
        try invite.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        invite.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public var pid: Int32 { process.processIdentifier }

    public func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// The `vishwa-shard` beside the running executable.
    public static func siblingBinary() -> String {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("vishwa-shard").path
    }
}

public struct BenchError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension FileHandle {
    /// Reads up to a newline (exclusive), byte by byte (only for a daemon's first line).
    func readLine() -> [UInt8] {
        var line: [UInt8] = []
        while true {
            let byte = readData(ofLength: 1)
            if byte.isEmpty || byte.first == UInt8(ascii: "\n") { return line }
            line.append(byte.first!)
        }
    }
}
