import ArgumentParser
import VishwaCore
import VishwaShardHost

struct Revoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Unpair a device, or every device of a vault.",
        discussion: """
            Takes effect at once, also for a running daemon: the device is refused at its next \
            handshake, and a connection it has open is answered 'unauthorized' from its next \
            request. Stored shards stay. The vault's pinned key stays too (only that vault can pair \
            its devices again) unless --forget-key is given with --vault.
            """)

    @OptionGroup var options: DirOptions

    @Argument(help: "The device's public key (64 hex digits) or its 16-hex-digit device id, as 'vishwa-shard status' and the daemon's log show it.")
    var device: String?

    @Option(name: .long, help: "Unpair every device of this vault (32 hex digits) instead.")
    var vault: String?

    @Flag(name: .long, help: "With --vault: also forget the vault's pinned key, so the next pairing of that vault id pins a new one.")
    var forgetKey = false

    func validate() throws {
        guard (device == nil) != (vault == nil) else { throw ValidationError("give either a device key or --vault ID") }
        if forgetKey && vault == nil { throw ValidationError("--forget-key goes with --vault") }
        if let vault, VaultID(hex: vault.lowercased()) == nil { throw ValidationError("--vault must be 32 hex digits") }
    }

    func run() async throws {
        try await reportingErrors {
            let registry = PairingRegistry(dir: options.dir)
            if let vault, let id = VaultID(hex: vault.lowercased()) {
                let removed = try registry.revoke(vault: id, forgetKey: forgetKey)
                print("revoked \(removed.count) device(s) of vault \(id)" + (forgetKey ? "; its key is no longer pinned" : ""))
            } else if let device {
                let removed = try registry.revoke(device: device)
                let vaults = removed.map(\.vaultID).joined(separator: ", ")
                print("revoked device \(removed.first?.deviceKey ?? device) (vault \(vaults))")
            }
        }
    }
}
