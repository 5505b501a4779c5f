import ArgumentParser
import Foundation
import VishwaCore

@main
struct VishwaShard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vishwa-shard",
        abstract: "Keep encrypted shards for Vishwarupa vaults on this machine.",
        discussion: """
            The host never sees a key or a whole file: it stores opaque, encrypted shards for the \
            devices it has paired with, within each vault's quota.
            """,
        subcommands: [InitHost.self, Serve.self, Invite.self, Status.self, Revoke.self])

    /// Core dumps off before anything is parsed or read (the host key, shards in flight).
    static func main() async {
        if let failure = CoreDumps.disable() { FileHandle.standardError.write(Data("vishwa-shard: warning: \(failure)\n".utf8)) }
        await main(nil)
    }
}
