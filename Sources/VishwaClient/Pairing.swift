import Foundation
import VishwaCatalog
import VishwaCore
import VishwaCrypto
import VishwaTransport
import VishwaWire

/// `vishwa host add`: spends a host's one-time code to register this device, pins the host's key
/// and records the host in the catalog.
public enum Pairing {
    public struct Result: Sendable {
        public let host: HostRecord
        public let isNew: Bool
        public let figures: HostFigures
    }

    /// Connects to the host named in `code`, proves the invitation, and records the host.
    /// Throws `TransportError.refused` with the host's reason (code used, expired, unknown).
    public static func pair(_ code: PairingCode, name: String?, session: VaultSession) async throws -> Result {
        let device = session.vault.deviceKeyPair
        let hello = ClientHello.pairing(vaultID: session.vault.identity.vaultID, secret: code.secret, hostKey: code.hostKey,
                                        device: device, vaultKey: session.vault.signingKeyPair)
        let connection = try await HostConnection.connect(
            to: code.address, hostKey: code.hostKey, device: device, hello: hello,
            group: session.group, logger: session.logger)
        let stat: StatReply
        do {
            stat = try await connection.stat()
            await connection.close()
        } catch {
            await connection.close()
            throw error
        }
        var record = HostRecord(address: code.address.description, publicKey: code.hostKey, name: name,
                                addedAt: Int(Date().timeIntervalSince1970))
        let figures = HostFigures(stat)
        if figures.fault == nil {
            record.capacityBytes = figures.capacity
            record.freeBytes = figures.free
            record.usedBytes = figures.used
            record.quotaBytes = figures.quota
        }
        record.lastSeen = Int(Date().timeIntervalSince1970)
        let stored = try session.catalog.addHost(record)
        return Result(host: stored.record, isNew: stored.isNew, figures: figures)
    }
}

/// A host's STAT answer as numbers this device can use. The host is not trusted: each number is
/// clamped to `limit` (a lying 2^64−1 must not trap a conversion, nor a sum over hosts), and
/// figures that contradict each other or exceed the limit set `fault`; a faulty host's figures
/// are not used (it is given no shards and adds nothing to the mount's free space).
public struct HostFigures: Sendable, Equatable {
    /// 1 EiB, more than any host's disk; 8 hosts at the limit still sum below Int.max.
    public static let limit: UInt64 = 1 << 60

    public let capacity: Int
    public let free: Int
    public let used: Int
    public let quota: Int?
    /// Why the answer makes no sense; nil when it does.
    public let fault: String?

    public init(_ stat: StatReply) {
        let clamp = { (value: UInt64) in Int(min(value, Self.limit)) }
        capacity = clamp(stat.capacityBytes)
        free = clamp(stat.freeBytes)
        used = clamp(stat.usedBytes)
        quota = stat.quotaBytes.map(clamp)
        let named: [(String, UInt64?)] = [("capacity", stat.capacityBytes), ("free", stat.freeBytes),
                                          ("used", stat.usedBytes), ("quota", stat.quotaBytes)]
        if let (name, value) = named.first(where: { ($0.1 ?? 0) > Self.limit }) {
            fault = "claims \(value!) bytes \(name), more than any disk"
        } else if stat.freeBytes > stat.capacityBytes {
            fault = "claims more free space (\(stat.freeBytes)) than capacity (\(stat.capacityBytes))"
        } else if stat.usedBytes > stat.capacityBytes {
            fault = "claims this vault uses more (\(stat.usedBytes)) than its capacity (\(stat.capacityBytes))"
        } else {
            fault = nil
        }
    }
}

/// What `vishwa host list` shows for one host.
public struct HostStatus: Sendable, Codable {
    public let address: String
    public let public_key: String
    public let name: String?
    public let online: Bool
    /// Unix seconds of the last successful contact, nil if never.
    public let last_seen: Int?
    public let capacity_bytes: Int?
    public let free_bytes: Int?
    public let used_bytes: Int?
    public let quota_bytes: Int?
    public let round_trip_ms: Double?
    public let error: String?
    /// Why the host's answers make no sense (then its figures are nil: not trusted); nil when sane.
    public let faulty: String?
}

extension VaultSession {
    /// Asks every host for its STAT in parallel (each within `timeout`), records what answered,
    /// and returns one status per host in catalog order.
    public func hostStatuses(timeout: Duration = .seconds(3)) async throws -> [HostStatus] {
        let hosts = try endpoints()
        let nanos = Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        let results = await withTaskGroup(of: (Int, Swift.Result<(StatReply, Double), TransportError>).self) { group in
            for (position, host) in hosts.enumerated() {
                group.addTask {
                    let start = ContinuousClock.now
                    do throws(TransportError) {
                        let body = try await self.pool.send(.stat, to: host.endpoint, timeout: .nanoseconds(nanos))
                        let elapsed = ContinuousClock.now - start
                        let ms = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
                        do {
                            return (position, .success((try StatReply(decoding: body), ms)))
                        } catch {
                            return (position, .failure(.malformedReply(address: host.endpoint.description, reason: "\(error)")))
                        }
                    } catch {
                        return (position, .failure(error))
                    }
                }
            }
            var collected: [Int: Swift.Result<(StatReply, Double), TransportError>] = [:]
            for await (position, result) in group { collected[position] = result }
            return collected
        }
        let now = Int(Date().timeIntervalSince1970)
        let catalog = self.catalog
        // Recording contacts writes SQLite: on the session's threads, never the cooperative pool.
        return try await blocking { try hosts.enumerated().map { position, host in
            switch results[position] {
            case .success(let (stat, ms))?:
                let figures = HostFigures(stat)
                let sane = figures.fault == nil
                try catalog.recordContact(hostID: host.record.id!, capacityBytes: sane ? figures.capacity : nil,
                                          freeBytes: sane ? figures.free : nil, usedBytes: sane ? figures.used : nil,
                                          quotaBytes: sane ? figures.quota : nil, at: now)
                return HostStatus(address: host.record.address, public_key: Hex.encode(host.record.publicKey),
                                  name: host.record.name, online: true, last_seen: now,
                                  capacity_bytes: sane ? figures.capacity : nil, free_bytes: sane ? figures.free : nil,
                                  used_bytes: sane ? figures.used : nil, quota_bytes: sane ? figures.quota : nil,
                                  round_trip_ms: ms, error: nil, faulty: figures.fault)
            case .failure(let error)?:
                return Self.offline(host.record, error.description)
            case nil:
                return Self.offline(host.record, "no answer")
            }
        } }
    }

    private static func offline(_ record: HostRecord, _ error: String) -> HostStatus {
        HostStatus(address: record.address, public_key: Hex.encode(record.publicKey), name: record.name, online: false,
                   last_seen: record.lastSeen, capacity_bytes: record.capacityBytes, free_bytes: record.freeBytes,
                   used_bytes: record.usedBytes, quota_bytes: record.quotaBytes, round_trip_ms: nil, error: error,
                   faulty: nil)
    }
}
