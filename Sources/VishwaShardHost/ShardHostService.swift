import Logging
import NIOCore
import NIOPosix
import VishwaCore
import VishwaCrypto
import VishwaShardStore
import VishwaTransport
import VishwaWire

/// The host's answers: pairing and authorization from the registry, requests served from the store.
///
/// Every disk operation runs on a thread pool, never on an event loop or the cooperative pool:
/// requests on `threadPool`, authorization (the registry) on `authorizationPool`, so requests
/// that keep the disk busy (SCRUBs) never hold up a device trying to connect. Each request is
/// confined to the vault the connection authenticated for, and is served only while that pairing
/// is still in the registry: a device revoked while connected gets `unauthorized` from its next
/// request on (a cached lookup, re-read when the file changes).
public struct ShardHostService: HostService {
    public let store: ShardStore
    public let registry: PairingRegistry
    /// This host's static public key, which a vault's pairing signature must name.
    let hostKey: [UInt8]
    let threadPool: NIOThreadPool
    let authorizationPool: NIOThreadPool
    let logger: Logger
    public static let version = "vishwa-shard 0.1 (wire 3)"

    public init(store: ShardStore, registry: PairingRegistry, hostKey: [UInt8], threadPool: NIOThreadPool,
                authorizationPool: NIOThreadPool, logger: Logger) {
        self.store = store
        self.registry = registry
        self.hostKey = hostKey
        self.threadPool = threadPool
        self.authorizationPool = authorizationPool
        self.logger = logger
    }

    public func authorize(device: [UInt8], hello: ClientHello) async -> Authorization {
        let registry = self.registry, hostKey = self.hostKey
        do {
            return try await authorizationPool.runIfActive { () throws -> Authorization in
                switch hello.intent {
                case .pair(let secret, let proof):
                    return try registry.pair(device: device, vault: hello.vaultID, secret: secret, proof: proof, hostKey: hostKey)
                case .session:
                    guard try registry.device(device, vault: hello.vaultID) != nil else {
                        return .reject("this device is not paired with this host for vault \(hello.vaultID)")
                    }
                    return .accept
                }
            }
        } catch {
            logger.error("authorization failed: \(error)")
            return .reject("host error while checking the pairing")
        }
    }

    public func handle(_ request: Request, device: [UInt8], vault: VaultID) async -> Response {
        do {
            return try await threadPool.runIfActive { () throws -> Response in
                guard try self.registry.device(device, vault: vault) != nil else {
                    return .failure(.unauthorized, "this device is no longer paired with this host for vault \(vault)")
                }
                return try self.serve(request, device: device, vault: vault)
            }
        } catch let error as StoreError {
            return Self.response(for: error, logger: logger)
        } catch let error as HostError {
            logger.error("\(request.operation) failed: \(error)")
            return .failure(.internalError, error.description)
        } catch {
            logger.error("\(request.operation) failed: \(error)")
            return .failure(.internalError, "\(error)")
        }
    }

    /// Runs one request against the store. Blocking.
    private func serve(_ request: Request, device: [UInt8], vault: VaultID) throws -> Response {
        switch request {
        case .ping:
            return Response(status: .ok, body: ByteBuffer())
        case .stat:
            let (total, free) = try store.capacity()
            let usage = store.usage(vault: vault)
            let quota = try registry.quota(of: vault)
            let reply = StatReply(capacityBytes: UInt64(total), freeBytes: UInt64(free), usedBytes: UInt64(usage.bytes),
                                  shardCount: UInt64(usage.shards), quotaBytes: quota.map(UInt64.init),
                                  version: Self.version)
            return Response(status: .ok, body: reply.encode())
        case .put(let id, let data):
            let quota = try registry.quota(of: vault)
            try data.withUnsafeReadableBytes { (bytes) throws(StoreError) in
                try store.put(vault: vault, id: try shardID(id), bytes: bytes, quota: quota)
            }
            return Response(status: .ok, body: ByteBuffer())
        case .get(let id, let offset, let length):
            let shard = try shardID(id)
            if let length, offset <= UInt64(ShardStore.maxShardSize), length <= UInt64(ShardStore.maxShardSize) {
                // A range: only those bytes are read from disk.
                let start = Int(offset)
                return Response(status: .ok, body: ByteBuffer(bytes: try store.get(vault: vault, id: shard, range: start..<start + Int(length))),
                                sealedFrom: Frame.sealedFrom(shardOffset: offset))
            }
            let bytes = try store.get(vault: vault, id: shard)
            guard offset <= UInt64(bytes.count), (length ?? 0) <= UInt64(bytes.count) - offset else {
                return .failure(.badRange, "range \(offset)+\(length.map(String.init) ?? "rest") is outside the shard of \(bytes.count) bytes")
            }
            let start = Int(offset)
            let end = length.map { start + Int($0) } ?? bytes.count
            return Response(status: .ok, body: ByteBuffer(bytes: bytes[start..<end]), sealedFrom: Frame.sealedFrom(shardOffset: offset))
        case .has(let ids):
            return Response(status: .ok, body: HasReply.encode(store.has(vault: vault, ids: try ids.map(shardID))))
        case .delete(let ids):
            return Response(status: .ok, body: CountReply.encode(try store.delete(vault: vault, ids: try ids.map(shardID))))
        case .list(let after, let limit):
            let page = try store.list(vault: vault, after: try after.map(shardID), limit: Int(limit))
            let reply = ListReply(ids: page.ids.map { WireShardID(bytes: $0.bytes)! },
                                  next: page.next.map { WireShardID(bytes: $0.bytes)! })
            return Response(status: .ok, body: reply.encode())
        case .scrub:
            let report = try store.scrub(vault: vault)
            let bad = (report.corrupt[vault] ?? []).map { WireShardID(bytes: $0.bytes)! }
            return Response(status: .ok, body: ScrubReply(checked: UInt64(report.checked), bytes: UInt64(report.bytes), bad: bad).encode())
        case .backupPut(let generation, let data):
            let quota = try registry.quota(of: vault)
            try data.withUnsafeReadableBytes { (bytes) throws(StoreError) in
                try store.putBackup(vault: vault, generation: generation, bytes: bytes, quota: quota)
            }
            return Response(status: .ok, body: ByteBuffer())
        case .backupGet(let generation):
            let backup = try store.getBackup(vault: vault, generation: generation)
            return Response(status: .ok, body: BackupReply.encode(generation: backup.generation, data: ByteBuffer(bytes: backup.bytes)))
        case .backupList:
            return Response(status: .ok, body: BackupReply.encodeList(try store.listBackups(vault: vault)))
        case .unpair:
            try registry.unpair(device: device, vault: vault)
            logger.notice("device \(KeyFingerprint.short(device)) unpaired itself from vault \(vault)")
            return Response(status: .ok, body: ByteBuffer())
        }
    }

    private func shardID(_ id: WireShardID) throws(StoreError) -> ShardID {
        ShardID(bytes: id.bytes)!
    }

    static func response(for error: StoreError, logger: Logger) -> Response {
        switch error {
        case .notFound, .backupNotFound: return .failure(.notFound, error.description)
        case .corrupt, .corruptBackup: return .failure(.corrupt, error.description)
        case .quotaExceeded, .tooManyShards: return .failure(.quotaExceeded, error.description)
        case .empty: return .failure(.badRequest, error.description)
        case .diskFull: return .failure(.diskFull, error.description)
        case .tooLarge: return .failure(.tooLarge, error.description)
        case .badRange: return .failure(.badRange, error.description)
        case .io:
            logger.error("store failure: \(error)")
            return .failure(.internalError, error.description)
        }
    }
}
