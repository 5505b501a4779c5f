import ArgumentParser
import Foundation
import VishwaCatalog
import VishwaClient
import VishwaCore

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that every shard of a file (or of all files) is on its host.",
        discussion: "Asks each host which shards it holds. Exit 0 when all healthy, 22 when some are degraded, 21 when a file is lost.")

    @OptionGroup var options: UnlockOptions

    @Argument(help: "A file (path, id or number); all files when omitted.")
    var file: String?

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @Flag(name: .long, help: "Only check the catalog's own consistency (exit 23 when it finds problems).")
    var catalog = false

    func run() async throws {
        try await reportingErrorsAsync(verbose: options.home.verbose) {
            if catalog {
                let problems = try await withSession(options) { try $0.catalog.consistencyProblems() }
                for problem in problems { print(problem) }
                print(problems.isEmpty ? "catalog consistent" : "\(problems.count) catalog problems")
                if !problems.isEmpty { throw Exit.catalogInconsistent }
                return
            }
            let report = try await withSession(options) { session -> [FileHealth] in
                let nodes = try session.fileNodes(file)
                return try await session.health(of: nodes)
            }
            if json { try printJSON(report) } else {
                for health in report { print("\(health.path): \(health.summary)") }
                let lost = report.filter { $0.state == "lost" }.count
                let degraded = report.filter { $0.state == "degraded" }.count
                print("\(report.count) files: \(report.count - lost - degraded) healthy, \(degraded) degraded, \(lost) lost")
            }
            if report.contains(where: { $0.state == "lost" }) { throw Exit.dataUnavailable }
            if report.contains(where: { $0.state == "degraded" }) { throw Exit.degraded }
        }
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Hosts, totals, degraded files, last backup.")

    @OptionGroup var options: UnlockOptions

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    struct Report: Encodable {
        let hosts: [HostStatus]
        let hosts_online: Int
        let files: Int
        let bytes: Int
        let degraded_files: [String]
        /// Files keeping shards on a host that did not answer: readable while k shards of each
        /// chunk are online, but tolerating fewer further losses until it returns.
        let files_on_offline_hosts: Int
        let backup_generation: Int64?
        let backup_time: Int64?
        /// Why the last catalog backup failed, when no backup has succeeded since.
        let backup_error: String?
        let backup_error_time: Int64?
    }

    func run() async throws {
        try await reportingErrorsAsync(verbose: options.home.verbose) {
            let report = try await withSession(options) { session -> Report in
                let hosts = try await session.hostStatuses()
                let files = try session.catalog.files()
                let offline = Set(hosts.filter { !$0.online }.map(\.public_key))
                let failure = try session.catalog.backupFailure()
                var exposed = Set<Int64>()
                for host in try session.catalog.hosts() where offline.contains(Hex.encode(host.publicKey)) {
                    exposed.formUnion(try session.catalog.filesWithShards(onHost: host.id!))
                }
                return Report(hosts: hosts, hosts_online: hosts.filter(\.online).count, files: files.count,
                              bytes: files.map(\.size).reduce(0, +), degraded_files: files.filter(\.degraded).map(\.path),
                              files_on_offline_hosts: exposed.count,
                              backup_generation: try session.catalog.meta("backupGeneration"),
                              backup_time: try session.catalog.meta("backupTime"),
                              backup_error: failure?.reason, backup_error_time: failure?.time)
            }
            if json { try printJSON(report); return }
            print("hosts: \(report.hosts_online) of \(report.hosts.count) online")
            for host in report.hosts { print("  " + HostList.line(host)) }
            print("files: \(report.files), \(ByteCount(report.bytes))")
            if report.degraded_files.isEmpty {
                print("degraded: none")
            } else {
                print("degraded: \(report.degraded_files.count) (run 'vishwa verify')")
                for path in report.degraded_files.prefix(10) { print("  \(path)") }
            }
            if report.files_on_offline_hosts > 0 {
                print("on offline hosts: shards of \(report.files_on_offline_hosts) files (readable while enough hosts are online; "
                      + "the mount rebuilds them elsewhere if the hosts stay away)")
            }
            if let generation = report.backup_generation, let time = report.backup_time {
                print("catalog backup: generation \(generation), \(HostList.ago(Int(time)))")
            } else {
                print("catalog backup: none yet (needs 2 hosts online)")
            }
            if let error = report.backup_error, let time = report.backup_error_time {
                print("catalog backup FAILED \(HostList.ago(Int(time))): \(error)")
            }
        }
    }
}
