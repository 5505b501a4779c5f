import ArgumentParser
import VishwaClient

struct GC: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Delete from the hosts the shards no file version needs any more.")

    @OptionGroup var options: UnlockOptions

    @Option(name: .long, help: "Only shards unreferenced for at least this long: 30s, 10m, 1h (default), 0 for all.")
    var minAge = "1h"

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() async throws {
        try await reportingErrorsAsync(verbose: options.home.verbose) {
            guard let seconds = Self.seconds(minAge) else { throw InputError("cannot read --min-age '\(minAge)': use e.g. 0, 30s, 10m, 1h") }
            let report = try await withSession(options) { try await GarbageCollector.run($0, minAge: seconds) }
            if json { try printJSON(report); return }
            print("gc: \(report.deleted) shards deleted, \(report.alreadyGone) already gone, "
                  + "\(report.unreachable) on unreachable hosts, \(report.pending) still queued")
        }
    }

    static func seconds(_ text: String) -> Int64? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        guard let last = text.last else { return nil }
        if let unit = units[last] { return Int64(text.dropLast()).map { $0 * unit } }
        return Int64(text)
    }
}
