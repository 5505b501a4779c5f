import Foundation
import NIOCore
import VishwaCatalog
import VishwaCodec
import VishwaCore
import VishwaCrypto
import VishwaTransport
import VishwaWire

/// Progress of a transfer, reported after each chunk.
public struct TransferProgress: Sendable {
    public let chunksDone: Int
    public let chunkCount: Int
    public let bytesDone: Int
    public let totalBytes: Int
    public let elapsedSeconds: Double
}

public struct UploadResult: Sendable {
    public let node: Int64
    public let path: String
    public let fileID: [UInt8]
    public let version: UInt64
    public let size: Int
    public let degraded: Bool
    public let elapsedSeconds: Double
}

/// `vishwa upload`: streams a local file through the codec to the hosts, a few chunks at a time
/// (memory stays bounded whatever the size; no plaintext touches the local disk), then commits
/// the new version in one catalog transaction. A crash before the commit leaves the previous
/// version (or no file) and only unreferenced shards on hosts.
public struct Uploader: Sendable {
    public let session: VaultSession
    public let parameters: CodingParameters
    /// Chunks coded and sent at once.
    public var window = 4

    public init(session: VaultSession, parameters: CodingParameters = .default) {
        self.session = session
        self.parameters = parameters
    }

    public func upload(
        _ localPath: String, folder: String?, name: String? = nil, tags: [String]? = nil,
        progress: @escaping @Sendable (TransferProgress) -> Void = { _ in }
    ) async throws -> UploadResult {
        let start = ContinuousClock.now
        let (file, size, mtime, mode) = try LocalFile.openForReading(localPath)
        let fileName = name ?? (localPath.split(separator: "/").last.map(String.init) ?? localPath)
        let catalog = session.catalog
        let vault = session.vault
        let (ticket, key) = try await session.blocking { () throws -> (VersionTicket, SecretBytes) in
            let parent = try catalog.ensureDirectory(folder ?? "/")
            let ticket = try catalog.ticket(parent: parent, name: fileName)
            if let node = ticket.existingNode, let wrapped = try? catalog.file(node: node).wrappedKey, !wrapped.isEmpty {
                return (ticket, try FileKeys.unwrap(wrapped, fileID: ticket.fileID, vault: vault))
            }
            return (ticket, FileKeys.newKey())
        }
        let hosts = try await session.liveHosts()
        let layout = ChunkLayout(fileSize: size, chunkSize: parameters.chunkSize)
        let sender = ChunkSender(session: session, parameters: parameters, hosts: hosts)
        let codec = ShardCodec(parameters: parameters)
        let vaultID = vault.identity.vaultID
        let fileID = FileID(bytes: ticket.fileID)!

        var chunks = [ChunkRecord?](repeating: nil, count: layout.chunkCount)
        var done = 0
        // Shards go on record as this process's pending ones before they are sent: a failed
        // upload hands them to gc at once, a killed one when gc finds this pid gone.
        let owner = "upload:\(getpid())"
        do {
            try await withThrowingTaskGroup(of: ChunkRecord.self) { group in
                var next = 0
                func launch() {
                    let position = next
                    next += 1
                    group.addTask {
                        let range = layout.range(ofChunk: position)
                        let context = ShardContext(vaultID: vaultID, fileID: fileID, version: ticket.number,
                                                   chunkIndex: UInt64(position), chunkLength: range.count, sealID: .random())
                        let encoded = try await session.blocking {
                            let plain = try file.read(at: range.lowerBound, count: range.count)
                            return try codec.encode(plain, context: context, key: key)
                        }
                        return try await sender.send(encoded, position: position, context: context, fileID: ticket.fileID) { shards in
                            try await session.blocking { try catalog.addPending(shards, owner: owner) }
                        }
                    }
                }
                for _ in 0..<min(window, layout.chunkCount) { launch() }
                while let chunk = try await group.next() {
                    chunks[chunk.position] = chunk
                    done += 1
                    let elapsed = ContinuousClock.now - start
                    progress(TransferProgress(chunksDone: done, chunkCount: layout.chunkCount,
                                              bytesDone: min(size, done * parameters.chunkSize), totalBytes: size,
                                              elapsedSeconds: elapsed.seconds))
                    if next < layout.chunkCount { launch() }
                }
            }
        } catch {
            try? await session.blocking { try catalog.abandonPending(owner: owner) }
            throw error
        }
        let records = chunks.compactMap { $0 }
        let degraded = records.contains { $0.shards.count < parameters.n }
        let version = NewVersion(size: size, chunkSize: parameters.chunkSize, k: parameters.k, m: parameters.m,
                                 wrappedKey: FileKeys.wrap(key, fileID: ticket.fileID, vault: vault), chunks: records,
                                 degraded: degraded)
        let (node, path) = try await session.blocking { () throws -> (Int64, String) in
            let node = try catalog.commit(ticket, version: version, mode: mode, mtime: mtime, tags: tags)
            let path = try catalog.path(of: node)
            try catalog.log("upload", "\(path) version \(ticket.number), \(ByteCount(size))\(degraded ? ", degraded" : "")")
            return (node, path)
        }
        return UploadResult(node: node, path: path, fileID: ticket.fileID, version: ticket.number, size: size,
                            degraded: degraded, elapsedSeconds: (ContinuousClock.now - start).seconds)
    }
}

extension VaultSession {
    /// The hosts that answer now, with their free space.
    func liveHosts() async throws -> [LiveHost] {
        // Generous: a busy host that answers in 10 s is still a good place for shards.
        let statuses = try await hostStatuses(timeout: .seconds(10))
        let endpoints = try endpoints()
        guard !endpoints.isEmpty else { throw ClientError.noHosts }
        return zip(endpoints, statuses).map { entry, status in
            // A host being drained takes no new shards.
            LiveHost(id: entry.record.id!, endpoint: entry.endpoint, online: status.online && entry.record.state == "active",
                     freeBytes: min(status.free_bytes ?? 0, status.quota_bytes.map { $0 - (status.used_bytes ?? 0) } ?? Int.max))
        }
    }
}

struct LiveHost: Sendable {
    let id: Int64
    let endpoint: HostEndpoint
    let online: Bool
    let freeBytes: Int
}

/// Places one chunk's shards and PUTs them in parallel; a host that fails is excluded and its
/// shards go elsewhere within the cap (docs/architecture.md §3). At least k+1 stored shards make a degraded chunk.
actor ChunkSender {
    let session: VaultSession
    let parameters: CodingParameters
    let hosts: [LiveHost]
    private var failed: Set<Int64> = []
    /// The last failure each host gave, for the error message.
    private var reasons: [Int64: String] = [:]

    init(session: VaultSession, parameters: CodingParameters, hosts: [LiveHost]) {
        self.session = session
        self.parameters = parameters
        self.hosts = hosts
        self.failed = Set(hosts.filter { !$0.online }.map(\.id))
    }

    private var placementHosts: [PlacementHost] {
        hosts.map { PlacementHost(id: $0.id, freeBytes: $0.freeBytes, online: $0.online && !failed.contains($0.id)) }
    }

    /// `beforeStore` is told which shard goes to which host before each round of PUTs (the mount
    /// records them as pending, so a crash leaves them for gc instead of nowhere).
    func send(_ encoded: EncodedChunk, position: Int, context: ShardContext, fileID: [UInt8],
              beforeStore: @Sendable ([(shardID: [UInt8], host: Int64)]) async throws -> Void = { _ in }) async throws -> ChunkRecord {
        let (k, m, n) = (parameters.k, parameters.m, parameters.n)
        var assignment: [Int64?]
        do {
            assignment = try Placer.place(k: k, m: m, shardBytes: encoded.shardLength, chunkIndex: position,
                                          hosts: placementHosts).hosts.map { Optional($0) }
        } catch {
            let online = hosts.filter { $0.online && !failed.contains($0.id) }
            let room = online.map { min(k - 1, max(0, $0.freeBytes) / max(1, encoded.shardLength)) }.reduce(0, +)
            if online.count >= 2, room < n {
                throw ClientError.tooFewHosts("hosts are full: the \(online.count) online hosts have room for \(room) of a chunk's "
                                              + "\(n) shards of \(ByteCount(encoded.shardLength)) within their quotas; free space or raise quotas")
            }
            if let reason = reasons.values.sorted().first {
                throw ClientError.tooFewHosts("hosts failed during the upload (\(reason)); nothing was stored")
            }
            throw ClientError.tooFewHosts("cannot place chunk \(position): \(error)")
        }
        let ids = (0..<n).map { _ in WireShardID(bytes: Random.bytes(16))! }
        var stored: [Int: Int64] = [:]
        for attempt in 0..<3 {
            let pending = (0..<n).filter { stored[$0] == nil && assignment[$0] != nil }
            try await beforeStore(pending.map { (ids[$0].bytes, assignment[$0]!) })
            let results = await put(encoded, indices: pending, ids: ids, assignment: assignment)
            for (index, host, failure) in results {
                if let failure {
                    failed.insert(host)
                    reasons[host] = failure
                    assignment[index] = nil
                } else {
                    stored[index] = host
                }
            }
            if stored.count == n || attempt == 2 { break }
            // Move the failed shards to hosts still answering, within the per-host cap.
            var current = (0..<n).map { stored[$0] }
            current = Placer.fill(k: k, m: m, shardBytes: encoded.shardLength, current: current, excluded: failed,
                                  hosts: placementHosts)
            assignment = current
            if (0..<n).allSatisfy({ stored[$0] != nil || assignment[$0] == nil }) { break }
        }
        guard stored.count >= min(n, k + 1) else {
            let why = reasons.values.sorted().first.map { "; e.g. \($0)" } ?? ""
            throw ClientError.uploadFailed("chunk \(position): only \(stored.count) of \(n) shards could be stored, at least "
                                           + "\(min(n, k + 1)) needed (\(failed.count) of \(hosts.count) hosts failing\(why))")
        }
        let shards = stored.sorted { $0.key < $1.key }.map { index, host in
            ShardRecord(index: index, shardID: ids[index].bytes, hostID: host)
        }
        return ChunkRecord(position: position, fileID: fileID, encodedVersion: context.version, index: position,
                           length: context.chunkLength, k: k, m: m, shards: shards, sealID: context.sealID?.bytes)
    }

    /// PUTs the given shards in parallel; returns (index, host, failure or nil when stored).
    private func put(_ encoded: EncodedChunk, indices: [Int], ids: [WireShardID], assignment: [Int64?]) async -> [(Int, Int64, String?)] {
        let byID = Dictionary(uniqueKeysWithValues: hosts.map { ($0.id, $0.endpoint) })
        let pool = session.pool
        return await withTaskGroup(of: (Int, Int64, String?).self) { group in
            for index in indices {
                guard let hostID = assignment[index], let endpoint = byID[hostID] else { continue }
                let data = ByteBuffer(bytes: encoded.shard(index))
                let id = ids[index]
                group.addTask {
                    do {
                        _ = try await pool.send(.put(id: id, data: data), to: endpoint, timeout: .seconds(60))
                        return (index, hostID, nil)
                    } catch {
                        return (index, hostID, "\(error)")
                    }
                }
            }
            var results: [(Int, Int64, String?)] = []
            for await result in group { results.append(result) }
            return results
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
