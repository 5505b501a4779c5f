import Synchronization
import VishwaCatalog
import VishwaCodec
import VishwaCore
import VishwaCrypto

/// Seals chunks for the mount (docs/architecture.md §3): encodes a plaintext chunk on the session's threads
/// and stores its shards on hosts within the placement cap. The shards are recorded as pending
/// in the catalog before they are sent, so a crash before the commit leaves them to gc.
public final class ChunkWriter: Sendable {
    public let session: VaultSession
    public let parameters: CodingParameters
    /// How long a survey of live hosts is trusted before the next seal asks again.
    private let hostsTTL: Duration = .seconds(15)
    private let cachedHosts = Mutex<(hosts: [LiveHost], at: ContinuousClock.Instant)?>(nil)

    public init(session: VaultSession, parameters: CodingParameters) {
        self.session = session
        self.parameters = parameters
    }

    /// Encodes `plaintext` as chunk `position` of version `version` of file `fileID` and stores
    /// its shards; returns the record to commit. Throws when fewer than k+1 shards could be stored.
    public func seal(_ plaintext: [UInt8], position: Int, fileID: [UInt8], version: UInt64, key: SecretBytes) async throws
        -> ChunkRecord
    {
        // A fresh seal id: a chunk rewritten before close is sealed again under the same version,
        // and the shards of the first seal must not pass for the second's.
        let context = ShardContext(vaultID: session.vault.identity.vaultID, fileID: FileID(bytes: fileID)!, version: version,
                                   chunkIndex: UInt64(position), chunkLength: plaintext.count, sealID: .random())
        let codec = ShardCodec(parameters: parameters)
        let encoded = try await session.blocking { try codec.encode(plaintext, context: context, key: key) }
        let hosts = try await liveHosts()
        let sender = ChunkSender(session: session, parameters: parameters, hosts: hosts)
        let catalog = session.catalog
        let session = self.session
        do {
            return try await sender.send(encoded, position: position, context: context, fileID: fileID) { shards in
                try await session.blocking { try catalog.addPending(shards) }
            }
        } catch {
            // The next seal surveys hosts afresh instead of trusting a list that just failed.
            cachedHosts.withLock { $0 = nil }
            throw error
        }
    }

    /// Forgets the host survey (hosts came back, or were added).
    public func refreshHosts() { cachedHosts.withLock { $0 = nil } }

    private func liveHosts() async throws -> [LiveHost] {
        let now = ContinuousClock.now
        if let cached = cachedHosts.withLock({ $0 }), now - cached.at < hostsTTL, cached.hosts.contains(where: \.online) {
            return cached.hosts
        }
        let hosts = try await session.liveHosts()
        cachedHosts.withLock { $0 = (hosts, now) }
        return hosts
    }
}

extension ChunkRecord {
    /// What this chunk's shards are bound to (docs/format.md §2), for decoding and rebuilding them.
    public func shardContext(vault: VaultID) -> ShardContext {
        ShardContext(vaultID: vault, fileID: FileID(bytes: fileID)!, version: encodedVersion, chunkIndex: UInt64(index),
                     chunkLength: length, sealID: sealID.flatMap { SealID(bytes: $0) })
    }
}

extension SealID {
    /// A new random seal id.
    static func random() -> SealID { SealID(bytes: Random.bytes(16))! }
}
