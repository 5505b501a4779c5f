import ArgumentParser
import Foundation
import Logging
import VishwaClient
import VishwaCrypto
import VishwaCore
import VishwaTransport
import VishwaVault

/// Options of commands that unlock the vault.
struct UnlockOptions: ParsableArguments {
    @OptionGroup var home: HomeOptions

    @Option(name: .long, help: "Read the passphrase from the first line of this file (default: $VISHWA_PASSPHRASE_FILE, else ask).")
    var passphraseFile: String?

    /// Opens a session on the vault; the caller must `close()` it.
    func openSession() throws -> VaultSession {
        let file = passphraseFile ?? ProcessInfo.processInfo.environment["VISHWA_PASSPHRASE_FILE"]
        let home = self.home.vaultHome
        let identity = try Vault.identity(in: home)
        let passphrase = identity.isPassphraseProtected ? try Passphrase.forUnlocking(file: file) : nil
        var logger = Logger(label: "vishwa")
        logger.logLevel = self.home.verbose ? .info : .warning
        return try VaultSession(home: home, passphrase: passphrase, logger: logger)
    }
}

struct Host: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pair with hosts and list them.",
        subcommands: [HostAdd.self, HostList.self, HostRemove.self])
}

struct HostAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Pair with a host using the code printed by 'vishwa-shard invite'.",
        discussion: "Pins the host's key (this device will talk to no other key at that address) and registers this device with it.")

    @OptionGroup var options: UnlockOptions

    @Argument(help: "The pairing code (vwpair1/HOST:PORT/...).")
    var code: String

    @Option(name: .long, help: "A name for the host in listings.")
    var name: String?

    func run() async throws {
        try await reportingErrorsAsync(verbose: options.home.verbose) {
            let pairing = try PairingCode(parsing: code)
            let session = try options.openSession()
            do {
                let result = try await Pairing.pair(pairing, name: name, session: session)
                try session.catalog.log("host", "paired with \(pairing.address)")
                if try session.catalog.hosts().count >= 2 { await backupAfterChange(session) }
                await session.close()
                let figures = result.figures
                let quota = figures.quota.map { ", quota \(ByteCount($0))" } ?? ", no quota"
                print("\(result.isNew ? "Paired with" : "Already paired with; updated") host \(pairing.address) "
                      + "(key \(KeyFingerprint.short(pairing.hostKey))): \(ByteCount(figures.free)) free\(quota)")
                if let fault = figures.fault {
                    printError("warning: host \(pairing.address) is faulty (\(fault)): it is given no shards until it answers sensibly")
                }
            } catch {
                await session.close()
                throw error
            }
        }
    }
}

struct HostList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Show every paired host: address, online or offline, last seen, capacity and use.",
        aliases: ["ls"])

    @OptionGroup var options: UnlockOptions

    @Flag(name: .long, help: "Print a JSON list of objects with address, public_key, online, last_seen, capacity_bytes, used_bytes, faulty.")
    var json = false

    @Option(name: .long, help: "Seconds to wait for each host.")
    var timeout = 3.0

    func run() async throws {
        try await reportingErrorsAsync(verbose: options.home.verbose) {
            let session = try options.openSession()
            let statuses: [HostStatus]
            do {
                statuses = try await session.hostStatuses(timeout: .milliseconds(Int(timeout * 1000)))
                await session.close()
            } catch {
                await session.close()
                throw error
            }
            if json {
                try printJSON(statuses)
                return
            }
            if statuses.isEmpty {
                print("No hosts yet. On a spare machine run 'vishwa-shard init', 'serve' and 'invite', then 'vishwa host add CODE' here.")
                return
            }
            for status in statuses {
                print(HostList.line(status))
            }
        }
    }

    static func line(_ s: HostStatus) -> String {
        let state = !s.online ? "OFFLINE" : s.faulty == nil ? "online " : "FAULTY "
        let seen = s.last_seen.map { "last seen " + Self.ago($0) } ?? "never seen"
        let space = s.capacity_bytes.map { cap in
            "\(ByteCount(s.used_bytes ?? 0)) used, \(ByteCount(s.free_bytes ?? 0)) free of \(ByteCount(cap))"
        } ?? (s.faulty.map { "answers make no sense: \($0)" } ?? "capacity unknown")
        let rtt = s.round_trip_ms.map { String(format: ", %.1f ms", $0) } ?? ""
        return "\(s.address.padding(22)) \(state)  \(space)\(rtt)  (\(seen)\(s.name.map { ", " + $0 } ?? ""))"
    }

    static func ago(_ time: Int) -> String {
        let seconds = max(0, Int(Date().timeIntervalSince1970) - time)
        switch seconds {
        case ..<5: return "now"
        case ..<120: return "\(seconds) s ago"
        case ..<7200: return "\(seconds / 60) min ago"
        case ..<172_800: return "\(seconds / 3600) h ago"
        default: return "\(seconds / 86400) days ago"
        }
    }
}

/// `vishwa devices`, as in the seed: the hosts holding this vault's shards.
struct Devices: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Same as 'vishwa host list'.")

    @OptionGroup var options: UnlockOptions

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @Option(name: .long, help: "Seconds to wait for each host.")
    var timeout = 3.0

    func run() async throws {
        var list = HostList()
        list.options = options
        list.json = json
        list.timeout = timeout
        try await list.run()
    }
}

struct HostRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Move every shard a host holds to the other hosts, then forget the host.",
        discussion: "Works whether the host is still running or already gone: its shards are rebuilt from the others. A host that answers is told to forget this device.",
        aliases: ["drain"])

    @OptionGroup var options: UnlockOptions

    @Argument(help: "The host's address (HOST:PORT, as 'vishwa host list' shows it).")
    var address: String

    func run() async throws {
        try await reportingErrorsAsync(verbose: options.home.verbose) {
            let report = try await withSession(options) { session -> HostRemoval.Report in
                guard let host = try session.catalog.hosts().first(where: { $0.address == address }) else {
                    throw ClientError.notFound("host \(address)")
                }
                let report = try await HostRemoval.remove(host.id!, session: session)
                if report.failures.isEmpty { await backupAfterChange(session) }
                return report
            }
            for failure in report.failures { printError("not moved: \(failure)") }
            guard report.failures.isEmpty else {
                throw ClientError.tooFewHosts("\(address) kept: \(report.failures.count) chunks could not be moved (see above)")
            }
            if case .notTold(let reason) = report.unpairing {
                printError("\(address) could not be told to forget this device (\(reason)); removed here all the same")
            }
            print("removed \(address): \(report.shardsMoved) shards of \(report.files) files moved to the other hosts"
                  + (report.unpairing == .forgotten ? "; the host forgot this device" : ""))
        }
    }
}
