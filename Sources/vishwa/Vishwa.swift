import ArgumentParser
import Foundation
import VishwaCore

@main
struct Vishwa: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vishwa",
        abstract: "Vishwarupa: your files, encrypted, erasure-coded and spread over your own machines.",
        discussion: """
            Every file is cut into chunks; each chunk becomes k data + m parity shards (default 6+4), \
            each shard encrypted on this machine before it leaves. Any k shards rebuild a chunk.
            """,
        subcommands: [Init.self, Id.self, VerifyKey.self, Host.self, Devices.self, Upload.self, Download.self, List.self, Remove.self, SyncFolder.self, Verify.self, StatusCommand.self, FsckCommand.self, GC.self, Log.self, Backup.self, Recover.self, Bench.self])

    /// Core dumps off before anything is parsed or read (the vault key, file plaintext).
    static func main() async {
        if let failure = CoreDumps.disable() { FileHandle.standardError.write(Data("vishwa: warning: \(failure)\n".utf8)) }
        await main(nil)
    }
}
