import NIOCore
import VishwaCatalog
import VishwaCodec
import VishwaCore
import VishwaCrypto
import VishwaTransport
import VishwaWire

/// `vishwa fsck`: checks the catalog, then every chunk's shards on their hosts (HAS, or with
/// `deep` a GET and an authentication of every shard), and with `repair` rebuilds the missing or
/// corrupt ones from any k good shards and places them within the per-host cap (docs/architecture.md §5).
public enum Fsck {
    public struct Report: Sendable, Codable {
        public var catalogProblems: [String] = []
        public var files: [FileHealth] = []
        public var missingShards = 0
        public var corruptShards = 0
        public var repairedShards = 0
        public var unrepairable: [String] = []
        /// With `deep`: what each host's own CRC scrub found ("address: checked, bad").
        public var scrubs: [String] = []

        public var healthy: Int { files.filter { $0.state == "healthy" }.count }
        public var degraded: Int { files.filter { $0.state == "degraded" }.count }
        public var lost: Int { files.filter { $0.state == "lost" }.count }
    }

    /// `repairBytesPerSecond` paces rebuilding (the mount's self-healing runs beside the user's
    /// own traffic): after each chunk it waits as long as that chunk's bytes take at the rate.
    /// `progress` is told (files checked, files in all) after each file.
    public static func run(_ session: VaultSession, nodes: [Int64], deep: Bool, repair: Bool,
                           repairBytesPerSecond: Int? = nil,
                           progress: @Sendable (Int, Int) -> Void = { _, _ in }) async throws -> Report {
        var report = Report()
        report.catalogProblems = try session.catalog.consistencyProblems()
        let hosts = Dictionary(uniqueKeysWithValues: try session.endpoints().map { ($0.record.id!, $0.endpoint) })
        if deep {
            for endpoint in hosts.values.sorted(by: { $0.description < $1.description }) {
                do {
                    let scrub = try ScrubReply(decoding: try await session.pool.send(.scrub, to: endpoint, timeout: .seconds(3600)))
                    report.scrubs.append("\(endpoint): \(scrub.checked) shards checked, \(scrub.bad.count) failed their CRC")
                } catch {
                    report.scrubs.append("\(endpoint): scrub failed: \(error)")
                }
            }
        }
        var live: [PlacementHost]?  // asked at the first repair, then reused
        for (done, node) in nodes.enumerated() {
            defer { progress(done + 1, nodes.count) }
            let file = try session.catalog.file(node: node)
            guard !file.chunks.isEmpty else { continue }
            let key = try FileKeys.unwrap(file.wrappedKey, fileID: file.fileID, vault: session.vault)
            for chunk in file.chunks {
                let bad = try await badShards(chunk, of: file, key: key, hosts: hosts, deep: deep, session: session)
                report.missingShards += bad.filter { !$0.corrupt }.count
                report.corruptShards += bad.filter(\.corrupt).count
                guard repair, !bad.isEmpty else { continue }
                do {
                    if live == nil { live = try await placementHosts(session) }
                    report.repairedShards += try await rebuild(chunk, of: file, key: key, bad: bad.map(\.index), hosts: hosts,
                                                               live: live!, session: session)
                    if let rate = repairBytesPerSecond, rate > 0 {
                        try await Task.sleep(for: .milliseconds(chunk.length * 1000 / rate))
                    }
                } catch {
                    report.unrepairable.append("\(file.path) chunk \(chunk.position): \(error)")
                }
            }
        }
        report.files = try await session.health(of: nodes)
        if report.repairedShards > 0 {
            try session.catalog.log("fsck", "repaired \(report.repairedShards) shards")
        }
        return report
    }

    struct BadShard {
        let index: Int
        let corrupt: Bool
    }

    /// Shards of `chunk` that are missing (not held, host unreachable) or, when `deep`, fail authentication.
    static func badShards(_ chunk: ChunkRecord, of file: FileRecord, key: SecretBytes, hosts: [Int64: HostEndpoint],
                          deep: Bool, session: VaultSession) async throws -> [BadShard] {
        let codec = ShardCodec(parameters: try CodingParameters(k: chunk.k, m: chunk.m, chunkSize: max(file.chunkSize, chunk.length, 1)))
        let context = chunk.shardContext(vault: session.vault.identity.vaultID)
        let recorded = Set(chunk.shards.map(\.index))
        var bad = (0..<(chunk.k + chunk.m)).filter { !recorded.contains($0) }.map { BadShard(index: $0, corrupt: false) }
        let results = deep
            ? await authenticate(chunk.shards, hosts: hosts, codec: codec, context: context, key: key, session: session)
            : await presence(chunk.shards, hosts: hosts, session: session)
        bad += results
        return bad.sorted { $0.index < $1.index }
    }

    /// Shards not held by their hosts: one HAS per host for the whole chunk. An unreachable host
    /// holds none of its shards as far as fsck can tell.
    static func presence(_ shards: [ShardRecord], hosts: [Int64: HostEndpoint], session: VaultSession) async -> [BadShard] {
        await withTaskGroup(of: [BadShard].self) { group in
            for (hostID, held) in Dictionary(grouping: shards, by: \.hostID) {
                group.addTask {
                    let missing = held.map { BadShard(index: $0.index, corrupt: false) }
                    guard let host = hosts[hostID] else { return missing }
                    let ids = held.map { WireShardID(bytes: $0.shardID)! }
                    guard let body = try? await session.pool.send(.has(ids: ids), to: host),
                          let sizes = try? HasReply.decode(body, expected: ids.count) else { return missing }
                    return zip(held, sizes).filter { $0.1 == nil }.map { BadShard(index: $0.0.index, corrupt: false) }
                }
            }
            var found: [BadShard] = []
            for await part in group { found += part }
            return found
        }
    }

    /// Shards that are missing or fail authentication: every shard fetched and verified.
    static func authenticate(_ shards: [ShardRecord], hosts: [Int64: HostEndpoint], codec: ShardCodec, context: ShardContext,
                             key: SecretBytes, session: VaultSession) async -> [BadShard] {
        await withTaskGroup(of: BadShard?.self) { group in
            for shard in shards {
                group.addTask {
                    guard let host = hosts[shard.hostID] else { return BadShard(index: shard.index, corrupt: false) }
                    do throws(TransportError) {
                        let body = try await session.pool.send(.get(id: WireShardID(bytes: shard.shardID)!, offset: 0, length: nil),
                                                               to: host)
                        switch codec.verify(body, context: context, key: key) {
                        case .success(let index) where index == shard.index: return nil
                        default: return BadShard(index: shard.index, corrupt: true)
                        }
                    } catch {
                        return BadShard(index: shard.index, corrupt: error.status == .corrupt)
                    }
                }
            }
            var found: [BadShard] = []
            for await result in group { if let result { found.append(result) } }
            return found
        }
    }

    /// The hosts placement may use now (asked once per run, not once per chunk).
    static func placementHosts(_ session: VaultSession) async throws -> [PlacementHost] {
        let statuses = try await session.hostStatuses()
        return zip(try session.endpoints(), statuses).map {
            PlacementHost(id: $0.0.record.id!, freeBytes: $0.1.free_bytes ?? 0, online: $0.1.online)
        }
    }

    /// Decodes the chunk from good shards, encodes it again (fresh nonces; the same plaintext
    /// pieces under the chunk's own seal id, so any index is valid beside the good shards), and
    /// stores the shards at `bad` on hosts within the cap.
    static func rebuild(_ chunk: ChunkRecord, of file: FileRecord, key: SecretBytes, bad: [Int],
                        hosts: [Int64: HostEndpoint], live: [PlacementHost], session: VaultSession,
                        avoiding: Set<Int64> = []) async throws -> Int {
        let plain = try await Reader(session: session).chunk(chunk, of: file, key: key, hosts: hosts)
        let parameters = try CodingParameters(k: chunk.k, m: chunk.m, chunkSize: max(file.chunkSize, chunk.length, 1))
        let context = chunk.shardContext(vault: session.vault.identity.vaultID)
        let encoded = try await session.blocking { try ShardCodec(parameters: parameters).encode(plain, context: context, key: key) }

        let badSet = Set(bad)
        var current = [Int64?](repeating: nil, count: chunk.k + chunk.m)
        for shard in chunk.shards where !badSet.contains(shard.index) { current[shard.index] = shard.hostID }
        var excluded = avoiding
        var stored: [ShardRecord] = []
        for _ in 0..<3 {
            let assignment = Placer.fill(k: chunk.k, m: chunk.m, shardBytes: encoded.shardLength, current: current,
                                         excluded: excluded, hosts: live)
            let todo = bad.filter { current[$0] == nil && assignment[$0] != nil }
            if todo.isEmpty { break }
            for index in todo {
                let hostID = assignment[index]!
                guard let endpoint = hosts[hostID] else { continue }
                let id = WireShardID(bytes: Random.bytes(16))!
                do {
                    _ = try await session.pool.send(.put(id: id, data: ByteBuffer(bytes: encoded.shard(index))), to: endpoint)
                    current[index] = hostID
                    stored.append(ShardRecord(index: index, shardID: id.bytes, hostID: hostID))
                } catch {
                    excluded.insert(hostID)
                }
            }
        }
        if !stored.isEmpty { try session.catalog.replaceShards(chunk: chunk.id!, with: stored) }
        guard stored.count == bad.count else {
            throw ClientError.tooFewHosts("rebuilt \(stored.count) of \(bad.count) shards: no host with room within the cap for the rest")
        }
        return stored.count
    }
}

/// `vishwa host remove`: moves every shard a host holds to the other hosts (rebuilt from any k
/// shards, so the host may already be gone), then forgets the host. Its copies go to the garbage
/// queue and are deleted from it when it is reachable, and a reachable host is told to forget
/// this device (UNPAIR), so the pairing cannot serve anyone holding this device's key later.
public enum HostRemoval {
    public struct Report: Sendable, Codable {
        public var files: Int
        public var shardsMoved: Int
        public var failures: [String]
        /// What the host said to UNPAIR; nil when the removal stopped before asking.
        public var unpairing: Unpairing?
    }

    public enum Unpairing: Sendable, Codable, Equatable {
        /// The host forgot this device (or had already).
        case forgotten
        /// The host could not be reached or failed; the reason.
        case notTold(String)
    }

    public static func remove(_ hostID: Int64, session: VaultSession) async throws -> Report {
        try session.catalog.setHostState(hostID, "draining")
        let hosts = Dictionary(uniqueKeysWithValues: try session.endpoints().map { ($0.record.id!, $0.endpoint) })
        var report = Report(files: 0, shardsMoved: 0, failures: [], unpairing: nil)
        let live = try await Fsck.placementHosts(session)
        for node in try session.catalog.filesWithShards(onHost: hostID) {
            let file = try session.catalog.file(node: node)
            let key = try FileKeys.unwrap(file.wrappedKey, fileID: file.fileID, vault: session.vault)
            report.files += 1
            for chunk in file.chunks {
                let leaving = chunk.shards.filter { $0.hostID == hostID }.map(\.index)
                guard !leaving.isEmpty else { continue }
                do {
                    report.shardsMoved += try await Fsck.rebuild(chunk, of: file, key: key, bad: leaving, hosts: hosts,
                                                                 live: live, session: session, avoiding: [hostID])
                } catch {
                    report.failures.append("\(file.path) chunk \(chunk.position): \(error)")
                }
            }
        }
        if report.failures.isEmpty {
            _ = try? await GarbageCollector.run(session, minAge: 0)
            if let host = hosts[hostID] { report.unpairing = await unpair(from: host, session: session) }
            try session.catalog.setHostState(hostID, "removed")
            try session.catalog.log("host", "removed host \(hostID): \(report.shardsMoved) shards moved")
        } else {
            try session.catalog.setHostState(hostID, "active")
        }
        return report
    }

    /// Asks `host` to forget this device, on a connection of its own (the pool may be holding
    /// the host in backoff after failures during the move).
    static func unpair(from host: HostEndpoint, session: VaultSession) async -> Unpairing {
        let hello = ClientHello(vaultID: session.vault.identity.vaultID, intent: .session)
        do throws(TransportError) {
            let connection = try await HostConnection.connect(
                to: host.address, hostKey: host.publicKey, device: session.vault.deviceKeyPair, hello: hello,
                group: session.group, timeout: .seconds(5), logger: session.logger)
            do throws(TransportError) {
                try await connection.unpair()
            } catch {
                await connection.close()
                throw error
            }
            await connection.close()
            return .forgotten
        } catch {
            switch error {
            case .refused, .host(_, .unauthorized, _): return .forgotten  // it no longer knows this device
            default: return .notTold(error.description)
            }
        }
    }
}
