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
        public let stat: StatReply
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
        record.capacityBytes = Int(stat.capacityBytes)
        record.freeBytes = Int(stat.freeBytes)
        record.usedBytes = Int(stat.usedBytes)
        record.quotaBytes = stat.quotaBytes.map(Int.init)
        record.lastSeen = Int(Date().timeIntervalSince1970)
        let stored = try session.catalog.addHost(record)
        return Result(host: stored.record, isNew: stored.isNew, stat: stat)
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
                try catalog.recordContact(hostID: host.record.id!, capacityBytes: Int(stat.capacityBytes),
                                          freeBytes: Int(stat.freeBytes), usedBytes: Int(stat.usedBytes),
                                          quotaBytes: stat.quotaBytes.map(Int.init), at: now)
                return HostStatus(address: host.record.address, public_key: Hex.encode(host.record.publicKey),
                                  name: host.record.name, online: true, last_seen: now,
                                  capacity_bytes: Int(stat.capacityBytes), free_bytes: Int(stat.freeBytes),
                                  used_bytes: Int(stat.usedBytes), quota_bytes: stat.quotaBytes.map(Int.init),
                                  round_trip_ms: ms, error: nil)
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
                   used_bytes: record.usedBytes, quota_bytes: record.quotaBytes, round_trip_ms: nil, error: error)
    }
}
