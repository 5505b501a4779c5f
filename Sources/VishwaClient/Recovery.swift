import Foundation
import Logging
import NIOCore
import NIOPosix
import VishwaCatalog
import VishwaCodec
import VishwaCore
import VishwaCrypto
import VishwaTransport
import VishwaVault
import VishwaWire

/// `vishwa recover`: rebuilds `$VISHWA_HOME` on a new machine from the recovery code and one host.
///
/// The device identity and vault id derive from the master key, so the hosts recognise the
/// recovered machine as the device they paired with. The newest backup generation that any k
/// shards reconstruct wins; older ones are tried when a newer one is incomplete.
public enum Recovery {
    public struct Result: Sendable {
        public let vaultID: VaultID
        public let generation: UInt64
        public let files: Int
        public let hosts: Int
    }

    public static func recover(
        masterKey: SecretBytes, host: HostAddress, hostKey: [UInt8], home: VaultHome, protection: KeyProtection,
        logger: Logger
    ) async throws -> Result {
        if DurableFile.exists(home.keyFile) { throw VaultError.alreadyExists(path: home.keyFile) }
        let vault = Vault.inMemory(masterKey: masterKey)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let pool = HostPool(device: vault.deviceKeyPair, hello: ClientHello(vaultID: vault.identity.vaultID, intent: .session),
                            group: group, logger: logger)
        defer { Task { try? await group.shutdownGracefully() } }
        let first = HostEndpoint(address: host, publicKey: hostKey)
        let snapshot: (UInt64, [UInt8])
        do {
            snapshot = try await newestSnapshot(from: first, pool: pool, vault: vault)
            await pool.closeAll()
        } catch {
            await pool.closeAll()
            throw error
        }
        do {
            try DurableFile.makeDirectory(home.path)
            try DurableFile.replace(home.path + "/catalog.sqlite", bytes: snapshot.1, mode: 0o600)
        } catch {
            throw ClientError.cannotWrite(path: home.path + "/catalog.sqlite", reason: error.description)
        }
        // The key file last: its presence means the recovery finished.
        try Vault.create(in: home, protection: protection, masterKey: masterKey)
        let catalog = try Catalog(path: home.path + "/catalog.sqlite")
        let files = try catalog.files().count
        let hosts = try catalog.hosts().count
        try catalog.setMeta("backupGeneration", Int64(snapshot.0))
        try catalog.log("recover", "catalog restored from backup generation \(snapshot.0) via \(host)")
        return Result(vaultID: vault.identity.vaultID, generation: snapshot.0, files: files, hosts: hosts)
    }

    /// Tries generations from newest to oldest until one decodes.
    static func newestSnapshot(from first: HostEndpoint, pool: HostPool, vault: Vault) async throws -> (UInt64, [UInt8]) {
        let generations = try BackupReply.decodeList(try await pool.send(.backupList, to: first))
        guard !generations.isEmpty else {
            throw ClientError.unreadable("\(first) holds no catalog backup for this vault (wrong recovery code, or no backup made yet)")
        }
        var problems: [String] = []
        for generation in generations.sorted(by: >) {
            do {
                return (generation, try await snapshot(generation, from: first, pool: pool, vault: vault))
            } catch {
                problems.append("generation \(generation): \(error)")
            }
        }
        throw ClientError.unreadable("no catalog backup could be rebuilt: " + problems.prefix(3).joined(separator: "; "))
    }

    static func snapshot(_ generation: UInt64, from first: HostEndpoint, pool: HostPool, vault: Vault) async throws -> [UInt8] {
        let key = vault.catalogBackupKey
        guard let blob = CatalogBackup.parse(try await fetchBlob(generation, from: first, pool: pool)),
              blob.generation == generation else {
            throw ClientError.unreadable("malformed backup blob from \(first)")
        }
        let directory: [CatalogBackup.DirectoryEntry]
        do {
            directory = try CatalogBackup.openDirectory(blob.directory, generation: generation, key: key)
        } catch {
            throw ClientError.unreadable("the host directory of generation \(generation) does not open with this recovery code")
        }
        var shards = blob.shards
        for entry in directory {
            guard let address = HostAddress(parsing: entry.address), let publicKey = Hex.decode(entry.publicKey),
                  publicKey != first.publicKey else { continue }
            let endpoint = HostEndpoint(address: address, publicKey: publicKey)
            if let other = try? await fetchBlob(generation, from: endpoint, pool: pool),
               let parsed = CatalogBackup.parse(other), parsed.generation == generation {
                shards += parsed.shards
            }
        }
        let parameters = try CodingParameters(k: blob.k, m: blob.m, chunkSize: max(blob.length, 1))
        let context = ShardContext(vaultID: vault.identity.vaultID, fileID: CatalogBackup.fileID, version: generation,
                                   chunkIndex: 0, chunkLength: blob.length)
        return try ShardCodec(parameters: parameters).decode(shards.map(\.1), context: context, key: key).plaintext
    }

    static func fetchBlob(_ generation: UInt64, from host: HostEndpoint, pool: HostPool) async throws -> ByteBuffer {
        try BackupReply.decode(try await pool.send(.backupGet(generation: generation), to: host)).data
    }
}
