import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import VishwaCore
import VishwaCrypto
import VishwaTransport
import VishwaWire

/// A host that lies, written for the tests: our `HostServer` on 127.0.0.1 with a service of its
/// own that keeps shards and backups in memory and answers what the test tells it to: nonsense
/// STAT figures, an old list of backup generations, forged backup blobs.
struct LyingHost: Sendable {
    let service: LyingService
    let server: HostServer

    /// Event loops of the lying hosts' own: the test devices' loops carry other suites' bulk
    /// traffic at the same time, and a host answering its handshake behind it missed the
    /// client's time limits.
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    static func start() async throws -> LyingHost {
        let service = LyingService()
        let server = try await HostServer.start(service: service, staticKeyPair: service.keyPair,
                                                address: HostAddress(host: "127.0.0.1", port: 0),
                                                group: Self.group, logger: LyingService.logger)
        return LyingHost(service: service, server: server)
    }

    var address: String { server.localAddress.description }
    /// A pairing code like `vishwa-shard invite` prints; this host accepts it any number of times.
    var code: String { PairingCode(address: server.localAddress, hostKey: service.keyPair.publicKey, secret: service.secret).description }
}

final class LyingService: HostService {
    static let logger = {
        var logger = Logger(label: "liar")
        logger.logLevel = .warning
        return logger
    }()

    struct State {
        var stat = StatReply(capacityBytes: 1 << 40, freeBytes: 1 << 39, usedBytes: 0, shardCount: 0, quotaBytes: nil,
                             version: "liar")
        var shards: [WireShardID: ByteBuffer] = [:]
        var backups: [UInt64: ByteBuffer] = [:]
        /// While set, BACKUP_PUT is acknowledged and thrown away: the host serves old generations.
        var dropsBackups = false
        /// Blobs served as if stored, whatever the vault sent.
        var forged: [UInt64: ByteBuffer] = [:]
        var puts = 0
    }

    let keyPair = X25519KeyPair.generate()
    let secret = Random.bytes(32)
    let state = Mutex(State())

    func authorize(device: [UInt8], hello: ClientHello) async -> Authorization {
        if case .pair(let offered, _) = hello.intent, offered != secret { return .reject("unknown code") }
        return .accept
    }

    func handle(_ request: Request, device: [UInt8], vault: VaultID) async -> Response {
        state.withLock { state in
            switch request {
            case .ping:
                return Response(status: .ok, body: ByteBuffer())
            case .stat:
                return Response(status: .ok, body: state.stat.encode())
            case .put(let id, let data):
                state.shards[id] = data
                state.puts += 1
                return Response(status: .ok, body: ByteBuffer())
            case .get(let id, let offset, let length):
                guard let shard = state.shards[id] else { return .failure(.notFound, "no such shard") }
                let start = Int(min(offset, UInt64(shard.readableBytes)))
                let count = length.map { Int(min($0, UInt64(shard.readableBytes - start))) } ?? shard.readableBytes - start
                return Response(status: .ok, body: shard.getSlice(at: shard.readerIndex + start, length: count)!)
            case .has(let ids):
                return Response(status: .ok, body: HasReply.encode(ids.map { state.shards[$0]?.readableBytes }))
            case .delete(let ids):
                let removed = ids.filter { state.shards.removeValue(forKey: $0) != nil }.count
                return Response(status: .ok, body: CountReply.encode(removed))
            case .backupPut(let generation, let data):
                if !state.dropsBackups { state.backups[generation] = data }
                return Response(status: .ok, body: ByteBuffer())
            case .backupGet(let generation):
                let all = state.backups.merging(state.forged) { $1 }
                guard let chosen = generation ?? all.keys.max(), let data = all[chosen] else {
                    return .failure(.notFound, "no such backup")
                }
                return Response(status: .ok, body: BackupReply.encode(generation: chosen, data: data))
            case .backupList:
                return Response(status: .ok, body: BackupReply.encodeList(Set(state.backups.keys).union(state.forged.keys).sorted()))
            case .list, .scrub, .unpair:
                return .failure(.badRequest, "not served by this host")
            }
        }
    }
}
