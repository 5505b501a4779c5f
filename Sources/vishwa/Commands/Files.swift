import ArgumentParser
import Foundation
import VishwaCatalog
import VishwaClient
import VishwaCore

#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` with an open session and closes it whatever happens.
func withSession<T>(_ options: UnlockOptions, _ body: (VaultSession) async throws -> T) async throws -> T {
    let session = try options.openSession()
    do {
        let result = try await body(session)
        await session.close()
        return result
    } catch {
        await session.close()
        throw error
    }
}

extension VaultSession {
    /// The node a user's reference (path, file id or number) names; throws a one-line not-found.
    func requireFile(_ reference: String) throws -> Int64 {
        guard let node = try catalog.resolve(reference) else { throw ClientError.notFound(reference) }
        return node
    }

    /// That one file, or every file when `reference` is nil.
    func fileNodes(_ reference: String?) throws -> [Int64] {
        if let reference { return [try requireFile(reference)] }
        return try catalog.files().map(\.node)
    }
}

/// Progress on standard error: a bar on a terminal, a plain line every 10% otherwise.
final class ProgressPrinter: @unchecked Sendable {
    private let label: String
    private let terminal = isatty(2) == 1
    private var lastDecile = -1
    private let lock = NSLock()

    init(_ label: String) { self.label = label }

    func update(_ p: TransferProgress) {
        lock.lock()
        defer { lock.unlock() }
        let rate = p.elapsedSeconds > 0 ? Double(p.bytesDone) / p.elapsedSeconds / 1e6 : 0
        let fraction = p.chunkCount == 0 ? 1 : Double(p.chunksDone) / Double(p.chunkCount)
        if terminal {
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            let line = String(format: "\r%@ [%@] %d/%d chunks, %.1f MB/s", label, bar, p.chunksDone, p.chunkCount, rate)
            FileHandle.standardError.write(Data(line.utf8))
            if p.chunksDone == p.chunkCount { FileHandle.standardError.write(Data("\n".utf8)) }
        } else {
            let decile = Int(fraction * 10)
            if decile != lastDecile {
                lastDecile = decile
                let line = String(format: "%@: %d/%d chunks, %.1f MB/s\n", label, p.chunksDone, p.chunkCount, rate)
                FileHandle.standardError.write(Data(line.utf8))
            }
        }
    }
}

func parseTags(_ text: String?) throws -> [String]? {
    guard let text else { return nil }
    let tags = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    for tag in tags where tag.isEmpty || tag.contains(where: { $0.isNewline || $0.asciiValue.map { $0 < 32 } == true }) {
        throw ClientError.invalidTag(tag)
    }
    return tags
}

struct Upload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Store a file: encrypt, code and spread it over the hosts.")

    @OptionGroup var options: UnlockOptions

    @Argument(help: "The local file.")
    var file: String

    @Option(name: .long, help: "Folder in the store (created if missing; default /).")
    var folder: String?

    @Option(name: .long, help: "Comma-separated tags, e.g. work,2024.")
    var tags: String?

    @Flag(name: .long, help: "Print one JSON object when done.")
    var json = false

    func run() async throws {
        try await reportingErrorsAsync(verbose: options.home.verbose) {
            let tagList = try parseTags(tags)
            let printer = ProgressPrinter("upload \(file.split(separator: "/").last ?? "")")
            let result = try await withSession(options) { session in
                let result = try await Uploader(session: session).upload(file, folder: folder, tags: tagList, progress: printer.update)
                await backupAfterChange(session)
                return result
            }
            if json {
                try printJSON(UploadReport(file_id: Hex.encode(result.fileID), path: result.path, node: result.node,
                                           version: result.version, size: result.size, degraded: result.degraded,
                                           seconds: result.elapsedSeconds))
            } else {
                let rate = result.elapsedSeconds > 0 ? Double(result.size) / result.elapsedSeconds / 1e6 : 0
                print("stored \(result.path) (\(ByteCount(result.size)), version \(result.version), "
                      + String(format: "%.1f MB/s", rate) + (result.degraded ? ", DEGRADED: fewer shards than planned" : "") + ")")
                print("file id \(Hex.encode(result.fileID))")
            }
        }
    }
}

struct UploadReport: Encodable {
    let file_id: String
    let path: String
    let node: Int64
    let version: UInt64
    let size: Int
    let degraded: Bool
    let seconds: Double
}

struct Download: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Fetch a file from the hosts and write it locally.")

    @OptionGroup var options: UnlockOptions

    @Argument(help: "The file: its path in the store, its file id, or its number from 'vishwa list'.")
    var file: String

    @Argument(help: "Where to write it (must not exist unless --force).")
    var out: String

    @Flag(name: .long, help: "Replace OUT if it exists.")
    var force = false

    func run() async throws {
        try await reportingErrorsAsync(verbose: options.home.verbose) {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory) {
                if isDirectory.boolValue { throw InputError("\(out) is a directory; give a file name") }
                if !force { throw InputError("\(out) exists; pass --force to replace it") }
            }
            let printer = ProgressPrinter("download")
            let record = try await withSession(options) { session in
                let node = try session.requireFile(file)
                return try await Reader(session: session).download(node: node, to: out, progress: printer.update)
            }
            print("wrote \(out) (\(ByteCount(record.size)), \(record.path) version \(record.versionNumber))")
        }
    }
}

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List stored files.", aliases: ["ls"])

    @OptionGroup var options: UnlockOptions

    @Option(name: .long, help: "Only files in this folder (recursively).")
    var folder: String?

    @Option(name: .long, help: "Only files with this tag.")
    var tag: String?

    @Flag(name: .long, help: "Print a JSON list.")
    var json = false

    func run() async throws {
        try await reportingErrorsAsync(verbose: options.home.verbose) {
            let files = try await withSession(options) { session -> [FileSummary] in
                var folderNode: Int64?
                if let folder {
                    guard let node = try session.catalog.node(atPath: folder) else { throw ClientError.notFound("folder \(folder)") }
                    folderNode = node
                }
                return try session.catalog.files(under: folderNode, tag: tag)
            }
            if json {
                try printJSON(files)
                return
            }
            if files.isEmpty { print("no files"); return }
            for f in files {
                let tags = f.tags.isEmpty ? "" : "  [" + f.tags.joined(separator: ",") + "]"
                print("\(String(f.node).leftPadding(6))  \(ByteCount(f.size).description.leftPadding(10))  \(f.path)\(tags)\(f.degraded ? "  (degraded)" : "")")
            }
        }
    }
}

struct Remove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a file from the store; its shards are queued for gc.")

    @OptionGroup var options: UnlockOptions

    @Argument(help: "Path, file id, or number of the file.")
    var file: String

    func run() async throws {
        try await reportingErrorsAsync(verbose: options.home.verbose) {
            let (path, queued) = try await withSession(options) { session -> (String, Int) in
                let node = try session.requireFile(file)
                let path = try session.catalog.path(of: node)
                let queued = try session.catalog.removeFile(node: node)
                try session.catalog.log("rm", "\(path) removed, \(queued) shards queued for gc")
                await backupAfterChange(session)
                return (path, queued)
            }
            print("removed \(path) (\(queued) shards queued for 'vishwa gc')")
        }
    }
}

struct Log: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the activity log.")

    @OptionGroup var options: UnlockOptions

    @Option(name: .long, help: "How many events.")
    var count = 50

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() async throws {
        try await reportingErrorsAsync(verbose: options.home.verbose) {
            let events = try await withSession(options) { try $0.catalog.activity(limit: count) }
            if json { try printJSON(events); return }
            let formatter = ISO8601DateFormatter()
            for e in events {
                print("\(formatter.string(from: Date(timeIntervalSince1970: Double(e.time) / 1e9)))  \(e.kind.padding(8))  \(e.message)")
            }
        }
    }
}
