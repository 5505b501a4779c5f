import ArgumentParser
import Foundation
import VishwaCatalog
import VishwaClient
import VishwaCore

struct SyncFolder: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync-folder",
        abstract: "Upload a whole folder tree, skipping files already stored unchanged (same size and time).")

    @OptionGroup var options: UnlockOptions

    @Argument(help: "The local folder.")
    var directory: String

    @Option(name: .long, help: "Folder in the store (default: the local folder's name).")
    var folder: String?

    @Option(name: .long, help: "Comma-separated tags for every uploaded file.")
    var tags: String?

    func run() async throws {
        try await reportingErrorsAsync(verbose: options.home.verbose) {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw InputError("\(directory) is not a folder")
            }
            let tagList = try parseTags(tags)
            let base = folder ?? "/" + (URL(fileURLWithPath: directory).lastPathComponent)
            let files = try Self.regularFiles(under: directory)
            let (uploaded, skipped, failed) = try await withSession(options) { session -> (Int, Int, [String]) in
                var uploaded = 0, skipped = 0
                var failed: [String] = []
                for relative in files {
                    let local = directory + "/" + relative
                    let storePath = base + "/" + relative
                    let storeFolder = String(storePath[..<storePath.lastIndex(of: "/")!])
                    if try Self.unchanged(local: local, storePath: storePath, catalog: session.catalog) {
                        skipped += 1
                        continue
                    }
                    do {
                        let result = try await Uploader(session: session).upload(local, folder: storeFolder.isEmpty ? "/" : storeFolder,
                                                                                 tags: tagList)
                        print("uploaded \(result.path) (\(ByteCount(result.size)))")
                        uploaded += 1
                    } catch {
                        printError("\(local): \(error)")
                        failed.append(local)
                    }
                }
                if uploaded > 0 { await backupAfterChange(session) }
                return (uploaded, skipped, failed)
            }
            print("sync of \(directory) to \(base): \(uploaded) uploaded, \(skipped) unchanged, \(failed.count) failed")
            if !failed.isEmpty { throw Exit.dataUnavailable }
        }
    }

    /// Paths of regular files under `root`, relative to it, sorted; symlinks are not followed.
    static func regularFiles(under root: String) throws -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: root) else { throw InputError("cannot list \(root)") }
        var out: [String] = []
        while let relative = walker.nextObject() as? String {
            let attributes = walker.fileAttributes
            if attributes?[.type] as? FileAttributeType == .typeRegular { out.append(relative) }
        }
        return out.sorted()
    }

    static func unchanged(local: String, storePath: String, catalog: Catalog) throws -> Bool {
        guard let node = try catalog.node(atPath: storePath), try catalog.kind(of: node) == "file" else { return false }
        let record = try catalog.file(node: node)
        var info = stat()
        guard stat(local, &info) == 0 else { return false }
        // As the upload recorded it (clamped to what the catalog holds).
        let mtime = FileLimits.clampedNanoseconds(seconds: Int64(info.st_mtim.tv_sec), nanoseconds: Int64(info.st_mtim.tv_nsec))
        return record.size == Int(info.st_size) && record.mtime == mtime
    }
}
