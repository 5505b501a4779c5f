import Logging
import NIOCore
import NIOPosix
import VishwaCatalog
import VishwaCore
import VishwaCrypto
import VishwaTransport
import VishwaVault
import VishwaWire

/// An unlocked vault with its catalog and its connections to hosts: what every command that
/// touches hosts or files works through. Call `close()` when done.
public final class VaultSession: Sendable {
    public let home: VaultHome
    public let vault: Vault
    public let catalog: Catalog
    public let group: MultiThreadedEventLoopGroup
    public let pool: HostPool
    public let logger: Logger
    /// Threads for blocking work: local file I/O, coding, SQLite. Never the cooperative pool.
    public let threads: NIOThreadPool

    /// Unlocks the vault in `home` (with `passphrase` when it is protected) and opens its catalog.
    public convenience init(home: VaultHome, passphrase: [UInt8]?, logger: Logger) throws {
        try self.init(home: home, vault: try Vault.open(in: home, passphrase: passphrase), logger: logger)
    }

    /// A session for a vault already unlocked (the mount unlocks before it daemonizes).
    /// `syncEveryCommit`: see `Catalog.init`; the mount passes false and syncs on fsync.
    public init(home: VaultHome, vault: Vault, logger: Logger, syncEveryCommit: Bool = true) throws {
        self.home = home
        self.vault = vault
        self.catalog = try Catalog(path: home.path + "/catalog.sqlite", syncEveryCommit: syncEveryCommit)
        // One event loop per core: each host connection's Noise work runs on its loop.
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        self.threads = NIOThreadPool(numberOfThreads: max(2, System.coreCount))
        self.threads.start()
        self.logger = logger
        self.pool = HostPool(device: vault.deviceKeyPair, hello: ClientHello(vaultID: vault.identity.vaultID, intent: .session),
                             group: group, logger: logger)
    }

    /// The endpoints of every active host in the catalog.
    public func endpoints() throws -> [(record: HostRecord, endpoint: HostEndpoint)] {
        try catalog.hosts().compactMap { record in
            guard let address = HostAddress(parsing: record.address) else { return nil }
            return (record, HostEndpoint(address: address, publicKey: record.publicKey))
        }
    }

    /// Runs blocking `body` on the session's threads.
    public func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await threads.runIfActive(body)
    }

    /// Closes connections and stops the event loop.
    public func close() async {
        await pool.closeAll()
        try? await group.shutdownGracefully()
        try? await threads.shutdownGracefully()
    }
}
