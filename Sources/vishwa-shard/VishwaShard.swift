import ArgumentParser

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
}
