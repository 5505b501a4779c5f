import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A vault with real `vishwa-shard` hosts on 127.0.0.1 and a real `vishwafs` mount of it
/// (`-f -o auto_unmount`, a child process stopped by pid). Unmounts, stops everything and
/// removes its folder at deinit.
final class MountedVault: @unchecked Sendable {
    let scratch: Scratch
    let home: String
    let mountpoint: String
    var hosts: [ShardHostProcess] = []
    private(set) var daemon: Process?
    var logPath: String { scratch.path + "/vishwafs.log" }

    init(hosts count: Int = 5, label: String) throws {
        scratch = Scratch("mnt-\(label)")
        home = try makeVault(in: scratch)
        mountpoint = scratch.path + "/mnt"
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
        for index in 1...count {
            let host = try ShardHostProcess(in: scratch, name: "host\(index)")
            hosts.append(host)
            let added = try run("vishwa", ["host", "add", try host.invite(), "--home", home])
            guard added.status == 0 else { throw TestFailure("host add failed: \(added.stderr)") }
        }
        try mount()
    }

    /// Starts `vishwafs` and waits until the kernel shows the mount.
    func mount(options: [String] = [], autoUnmount: Bool = true) throws {
        let process = Process()
        process.executableURL = binDirectory.appendingPathComponent("vishwafs")
        let all = (autoUnmount ? ["auto_unmount"] : []) + options
        process.arguments = [mountpoint, "--home", home, "-f"] + (all.isEmpty ? [] : ["-o", all.joined(separator: ",")])
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)!
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        let mountedBefore = self.log.components(separatedBy: "] mounted ").count
        try process.run()
        daemon = process
        let deadline = Date().addingTimeInterval(70)
        // This mount's log line, not only the mount table: a dead mount there may share the new one's id.
        while !(isMounted && self.log.components(separatedBy: "] mounted ").count > mountedBefore) {
            guard process.isRunning, Date() < deadline else {
                if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
                throw TestFailure("vishwafs did not mount: \(self.log)")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// Whether a vishwafs mount is at `mountpoint` (read from mountinfo: never touches the mount).
    var isMounted: Bool {
        let table = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        return table.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 && fields[4] == mountpoint && line.contains(" fuse.vishwafs ")
        }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// `fusermount3 -u`, then waits for the daemon to exit (it commits open files first).
    func unmount() {
        if isMounted { _ = try? shell("fusermount3 -u '\(mountpoint)' || fusermount3 -u -z '\(mountpoint)'") }
        guard let daemon else { return }
        let deadline = Date().addingTimeInterval(30)
        while daemon.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if daemon.isRunning {
            Glibc.kill(daemon.processIdentifier, SIGKILL)
            daemon.waitUntilExit()
        }
        self.daemon = nil
        // auto_unmount's fusermount3 lingers until the daemon's guard lets it go; a later
        // mount (or a test of dead mounts) must not meet it.
        _ = try? shell("for i in $(seq 100); do pgrep -f \"fusermount3 .*-- $MNT$\" > /dev/null || exit 0; sleep 0.05; done")
    }

    /// A crash: SIGKILL, then waits for auto_unmount to take the mount away.
    func killDaemon(waitForUnmount: Bool = true) {
        guard let daemon else { return }
        Glibc.kill(daemon.processIdentifier, SIGKILL)
        daemon.waitUntilExit()
        self.daemon = nil
        guard waitForUnmount else { return }
        let deadline = Date().addingTimeInterval(15)
        while isMounted && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    }

    /// Unmount and mount again: a cold plaintext cache (and the kernel's page cache dropped).
    func remount(options: [String] = []) throws {
        unmount()
        try mount(options: options)
    }

    /// Runs a bash script in the scratch folder with $MNT, $HOME_DIR and $BIN set.
    @discardableResult
    func shell(_ script: String) throws -> CommandResult {
        try runShell(script, in: scratch.path, environment: [
            "MNT": mountpoint, "VISHWA_HOME": home, "BIN": binDirectory.path, "SCRATCH": scratch.path,
        ])
    }

    deinit {
        unmount()
        for host in hosts { host.kill() }
    }
}

/// Runs `script` with bash and captures its output.
func runShell(_ script: String, in directory: String, environment: [String: String] = [:]) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = ["-c", "set -euo pipefail\ntrap 'echo \"failed at line $LINENO: $BASH_COMMAND\" >&2' ERR\n" + script]
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    var env = ProcessInfo.processInfo.environment
    env.merge(environment) { $1 }
    process.environment = env
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Read both pipes at once: a full stderr pipe must not stall a script writing much of it.
    let errData = Mutex<Data>(Data())
    let errReader = Thread { errData.withLock { $0 = err.fileHandleForReading.readDataToEndOfFile() } }
    errReader.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while errReader.isExecuting || !errReader.isFinished { Thread.sleep(forTimeInterval: 0.005) }
    return CommandResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData.withLock { $0 }, as: UTF8.self))
}
