import ArgumentParser
import Foundation
import VishwaClient

#if canImport(Glibc)
import Glibc
#endif

struct FsckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsck",
        abstract: "Check the catalog and every shard; with --repair, rebuild what is missing or corrupt.",
        discussion: """
            Exit codes as fsck's: 0 clean, 1 errors corrected, 4 errors left uncorrected, 8 operational \
            error. --deep fetches and authenticates every shard and asks the hosts to scrub. Works with \
            the mount running.
            """)

    @OptionGroup var options: UnlockOptions

    @Argument(help: "A file (path, id or number); every file when omitted.")
    var file: String?

    @Flag(name: .long, help: "Fetch and authenticate every shard; ask hosts to check their CRCs.")
    var deep = false

    @Flag(name: .long, help: "Rebuild missing and corrupt shards from any k good ones.")
    var repair = false

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    /// On a terminal, one line that counts the files checked (rewritten in place).
    static let progressLine: @Sendable (Int, Int) -> Void = { done, total in
        guard isatty(2) == 1 else { return }
        FileHandle.standardError.write(Data("\rfsck: \(done)/\(total) files checked\(done == total ? "\n" : "")".utf8))
    }

    func run() async throws {
        let report: Fsck.Report
        do {
            report = try await withSession(options) { session in
                let nodes = try session.fileNodes(file)
                return try await Fsck.run(session, nodes: nodes, deep: deep, repair: repair, progress: Self.progressLine)
            }
        } catch {
            printError(String(describing: error))
            throw Exit.fsckOperationalError
        }
        if json {
            try printJSON(report)
        } else {
            for problem in report.catalogProblems { print("catalog: \(problem)") }
            for line in report.scrubs { print("scrub \(line)") }
            for health in report.files where health.state != "healthy" { print("\(health.path): \(health.summary)") }
            for failure in report.unrepairable { print("not repaired: \(failure)") }
            print("\(report.files.count) files: \(report.healthy) healthy, \(report.degraded) degraded, \(report.lost) lost; "
                  + "\(report.missingShards) shards missing, \(report.corruptShards) corrupt, \(report.repairedShards) rebuilt")
        }
        let found = report.missingShards + report.corruptShards + report.catalogProblems.count
        let left = report.degraded + report.lost + report.catalogProblems.count + report.unrepairable.count
        if left > 0 { throw Exit.fsckUncorrected }
        if found > 0 { throw Exit.fsckCorrected }
    }
}
