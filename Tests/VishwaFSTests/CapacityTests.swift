import Foundation
import Logging
import TestSupport
import Testing
import VishwaCatalog
import VishwaClient
import VishwaCrypto
import VishwaFS
import VishwaVault

/// statfs sums what hosts reported: the sum saturates, whatever the catalog holds.
@Suite(.ownThreads) struct CapacityTests {
    @Test func hugeHostFiguresSaturateInsteadOfTrapping() async throws {
        let dir = NSTemporaryDirectory() + "vishwa-capacity-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let home = VaultHome(path: dir)
        let vault = try Vault.create(in: home, protection: .none)
        let session = try VaultSession(home: home, vault: vault, logger: Logger(label: "test"))
        for i in 0..<12 {
            var host = HostRecord(address: "127.0.0.1:\(1000 + i)", publicKey: Random.bytes(32), name: nil, addedAt: 0)
            host.capacityBytes = Int.max / 2
            host.freeBytes = Int.max / 2
            host.quotaBytes = Int.max
            host.usedBytes = -Int.max
            _ = try session.catalog.addHost(host)
        }
        let capacity = try FileSystem(session: session, options: MountOptions()).capacity()
        #expect(capacity.totalBytes > 0 && capacity.freeBytes > 0)
        await session.close()
    }
}
