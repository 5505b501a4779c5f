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
/// recovered machine as the device they paired with. No host is trusted: every host the given one
/// and the backups' sealed directories name is asked, and the newest generation that opens with
/// the recovery code and rebuilds wins, so one host serving old generations cannot roll the
/// catalog back. Nothing a host says sizes an allocation before it is authenticated or checked
/// against the bytes it sent.
public enum Recovery {
    public struct Result: Sendable {
        public let vaultID: VaultID
        public let generation: UInt64
        public let files: Int
        public let hosts: Int
    }

    /// At most this many hosts are asked (directories are authenticated, so only ever-real hosts).
    static let maxHosts = 256
    /// Generations considered per host, newest first: hosts keep 5, and a host listing a thousand
    /// forged ones must not cost a thousand fetches.
    static let generationsPerHost = 8

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
        let found: Found
        do {
            var search = Search(pool: pool, vault: vault)
            found = try await search.newest(startingAt: HostEndpoint(address: host, publicKey: hostKey))
            await pool.closeAll()
        } catch {
            await pool.closeAll()
            throw error
        }
        do {
            try DurableFile.makeDirectory(home.path)
            try DurableFile.replace(home.path + "/catalog.sqlite", bytes: found.snapshot, mode: 0o600)
        } catch {
            throw ClientError.cannotWrite(path: home.path + "/catalog.sqlite", reason: error.description)
        }
        // The key file last: its presence means the recovery finished.
        try Vault.create(in: home, protection: protection, masterKey: masterKey)
        let catalog = try Catalog(path: home.path + "/catalog.sqlite")
        let files = try catalog.files().count
        let records = try catalog.hosts()
        // The restored generation's own shards are not in its snapshot: recorded now, so they are
        // deleted when it grows old, like every other generation's.
        let ids = Dictionary(records.map { ($0.publicKey, $0.id!) }, uniquingKeysWith: { first, _ in first })
        let shards = found.shards.compactMap { shard in ids[shard.hostKey].map { GarbageShard(shardID: shard.id, hostID: $0) } }
        try catalog.recordBackup(found.generation, at: Int64(Date().timeIntervalSince1970), shards: shards)
        try catalog.log("recover", "catalog restored from backup generation \(found.generation) via \(host)")
        return Result(vaultID: vault.identity.vaultID, generation: found.generation, files: files, hosts: records.count)
    }

    struct Found {
        var generation: UInt64
        var snapshot: [UInt8]
        var shards: [(hostKey: [UInt8], id: [UInt8])]
    }

    /// A blob that opened with the backup key.
    enum Opened {
        case manifest(CatalogBackup.Manifest)
        case inline(directory: [CatalogBackup.DirectoryEntry], blob: CatalogBackup.V1)

        var directory: [CatalogBackup.DirectoryEntry] {
            switch self {
            case .manifest(let manifest): return manifest.hosts
            case .inline(let directory, _): return directory
            }
        }
    }

    /// The hosts found so far, what each lists, and the blobs opened.
    struct Search {
        let pool: HostPool
        let vault: Vault
        var hosts: [HostEndpoint] = []
        var lists: [HostEndpoint: [UInt64]] = [:]
        var opened: [UInt64: Opened] = [:]

        init(pool: HostPool, vault: Vault) {
            self.pool = pool
            self.vault = vault
        }

        /// Asks every reachable host, then rebuilds generations newest first until one rebuilds.
        mutating func newest(startingAt first: HostEndpoint) async throws -> Found {
            hosts = [first]
            // Until no directory names a host not asked yet: each newly asked host's newest
            // opening blob may name more hosts.
            while let next = hosts.first(where: { lists[$0] == nil }) {
                let listed = (try? BackupReply.decodeList(try await pool.send(.backupList, to: next))) ?? []
                let generations = Array(listed.sorted(by: >).prefix(Recovery.generationsPerHost))
                lists[next] = generations
                for generation in generations {
                    if let blob = await open(generation) {
                        learn(blob.directory)
                        break
                    }
                }
            }
            let candidates = Set(lists.values.joined()).sorted(by: >)
            guard !candidates.isEmpty else {
                throw ClientError.unreadable("\(first) holds no catalog backup for this vault (wrong recovery code, or no backup made yet)")
            }
            var problems: [String] = []
            for generation in candidates {
                guard let blob = await open(generation) else {
                    problems.append("generation \(generation): no host's copy opens with this recovery code")
                    continue
                }
                do {
                    return try await rebuild(generation, blob)
                } catch {
                    problems.append("generation \(generation): \(error)")
                }
            }
            throw ClientError.unreadable("no catalog backup could be rebuilt: " + problems.prefix(3).joined(separator: "; "))
        }

        mutating func learn(_ directory: [CatalogBackup.DirectoryEntry]) {
            for entry in directory where hosts.count < Recovery.maxHosts {
                guard let address = HostAddress(parsing: entry.address), let key = Hex.decode(entry.publicKey), key.count == 32
                else { continue }
                let endpoint = HostEndpoint(address: address, publicKey: key)
                if !hosts.contains(endpoint) { hosts.append(endpoint) }
            }
        }

        /// Generation `generation` from the first host listing it whose copy opens (cached).
        mutating func open(_ generation: UInt64) async -> Opened? {
            if let known = opened[generation] { return known }
            for host in hosts where lists[host]?.contains(generation) == true {
                if let blob = try? await fetch(generation, from: host), let result = Recovery.open(blob, generation, vault: vault) {
                    opened[generation] = result
                    return result
                }
            }
            return nil
        }

        func fetch(_ generation: UInt64, from host: HostEndpoint) async throws -> ByteBuffer {
            let reply = try BackupReply.decode(try await pool.send(.backupGet(generation: generation), to: host))
            guard reply.generation == generation else { throw ClientError.unreadable("\(host) answered another generation") }
            return reply.data
        }

        func rebuild(_ generation: UInt64, _ blob: Opened) async throws -> Found {
            switch blob {
            case .manifest(let manifest):
                return try await Recovery.rebuild(generation, manifest, pool: pool, vault: vault)
            case .inline(let directory, let first):
                var shards = first.shards
                for entry in directory {
                    guard let address = HostAddress(parsing: entry.address), let key = Hex.decode(entry.publicKey) else { continue }
                    let endpoint = HostEndpoint(address: address, publicKey: key)
                    if let other = try? await fetch(generation, from: endpoint), case .inline(let parsed)? = CatalogBackup.parse(other),
                       parsed.generation == generation, parsed.k == first.k, parsed.m == first.m, parsed.length == first.length {
                        shards += parsed.shards
                    }
                }
                return Found(generation: generation, snapshot: try Recovery.decodeV1(first, shards: shards, vault: vault), shards: [])
            }
        }
    }

    /// Opens a blob with the backup key; nil when it is not generation `generation` of this vault.
    static func open(_ body: ByteBuffer, _ generation: UInt64, vault: Vault) -> Opened? {
        let key = vault.catalogBackupKey
        switch CatalogBackup.parse(body) {
        case .manifest(let claimed, let sealed, _)? where claimed == generation:
            return CatalogBackup.openManifest(sealed, generation: generation, key: key).map(Opened.manifest)
        case .inline(let blob)? where blob.generation == generation:
            return CatalogBackup.openDirectory(blob.directory, generation: generation, key: key)
                .map { Opened.inline(directory: $0, blob: blob) }
        default:
            return nil
        }
    }

    /// Fetches each chunk's shards from their hosts and decodes the snapshot, chunk by chunk.
    static func rebuild(_ generation: UInt64, _ manifest: CatalogBackup.Manifest, pool: HostPool, vault: Vault) async throws -> Found {
        let parameters = try CodingParameters(k: manifest.k, m: manifest.m, chunkSize: manifest.chunkSize)
        let codec = ShardCodec(parameters: parameters)
        let endpoints: [HostEndpoint?] = manifest.hosts.map { entry in
            guard let address = HostAddress(parsing: entry.address), let key = Hex.decode(entry.publicKey) else { return nil }
            return HostEndpoint(address: address, publicKey: key)
        }
        var snapshot: [UInt8] = []
        var shards: [(hostKey: [UInt8], id: [UInt8])] = []
        for (index, chunk) in manifest.chunks.enumerated() {
            let located = chunk.shards.compactMap { shard -> (HostEndpoint, WireShardID, [UInt8])? in
                guard let endpoint = endpoints[shard.host], let hex = shard.id, let id = Hex.decode(hex),
                      let wire = WireShardID(bytes: id) else { return nil }
                return (endpoint, wire, id)
            }
            shards += located.map { ($0.0.publicKey, $0.2) }
            // Shards carried in blobs: each holding host's blob of this generation.
            let carriers = Set(chunk.shards.filter { $0.id == nil }.map(\.host)).compactMap { endpoints[$0] }
            let fetched = await withTaskGroup(of: [[UInt8]].self) { group in
                for (endpoint, id, _) in located {
                    group.addTask {
                        guard let body = try? await pool.send(.get(id: id, offset: 0, length: nil), to: endpoint) else { return [] }
                        return [Array(body.readableBytesView)]
                    }
                }
                for endpoint in carriers {
                    group.addTask {
                        guard let reply = try? BackupReply.decode(try await pool.send(.backupGet(generation: generation), to: endpoint)),
                              reply.generation == generation,
                              case .manifest(generation, _, let carried)? = CatalogBackup.parse(reply.data) else { return [] }
                        return carried.map(\.1)
                    }
                }
                var all: [[UInt8]] = []
                for await part in group { all += part }
                return all
            }
            let context = ShardContext(vaultID: vault.identity.vaultID, fileID: CatalogBackup.fileID, version: generation,
                                       chunkIndex: UInt64(index), chunkLength: chunk.length)
            do {
                snapshot += try codec.decode(fetched, context: context, key: vault.catalogBackupKey).plaintext
            } catch {
                throw ClientError.unreadable("chunk \(index) of \(manifest.chunks.count): \(error)")
            }
        }
        return Found(generation: generation, snapshot: snapshot, shards: shards)
    }

    /// The version 1 snapshot, decoded as far as its shards bear out its unsealed claims.
    static func decodeV1(_ blob: CatalogBackup.V1, shards: [(Int, [UInt8])], vault: Vault) throws -> [UInt8] {
        try CatalogBackup.decodeV1(blob, shards: shards, vaultID: vault.identity.vaultID, key: vault.catalogBackupKey)
    }
}
