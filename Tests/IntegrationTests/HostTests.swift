import Foundation
import NIOCore
import TestSupport
import Testing
import VishwaCore
import VishwaTransport
import VishwaWire

/// `vishwa-shard` as a real process on 127.0.0.1, driven by the `vishwa` CLI and the client library.
@Suite(.ownThreads, .timeLimit(.minutes(3))) struct HostTests {
    @Test func pairsListsHostsAndRefusesAReusedCode() throws {
        let scratch = Scratch("pair")
        let host = try ShardHostProcess(in: scratch, name: "h1")
        defer { withExtendedLifetime(host) {} }  // the daemon lives as long as the test
        let home = try makeVault(in: scratch)
        let code = try host.invite(quota: "1G")

        let added = try run("vishwa", ["host", "add", "--home", home, code])
        #expect(added.status == 0, "\(added.stderr)")
        #expect(added.stdout.contains("Paired with host \(host.address)"))

        let listed = try run("vishwa", ["devices", "--home", home, "--json"])
        #expect(listed.status == 0, "\(listed.stderr)")
        let hosts = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
        #expect(hosts.count == 1)
        #expect(hosts.first?["address"] as? String == host.address)
        #expect(hosts.first?["online"] as? Bool == true)
        #expect((hosts.first?["capacity_bytes"] as? Int ?? 0) > 0)
        #expect(hosts.first?["used_bytes"] as? Int == 0)
        #expect(hosts.first?["last_seen"] is Int)
        #expect((hosts.first?["public_key"] as? String)?.count == 64)

        // The same code from another vault is refused, and that vault gets no host.
        let other = try makeVault(in: scratch, name: "other")
        let reused = try run("vishwa", ["host", "add", "--home", other, code])
        #expect(reused.status == 18)
        #expect(reused.stderr == "vishwa: \(host.address) refused this device: pairing code already used\n")

        // Offline: the host is listed as such, with when it was last seen.
        host.kill()
        let offline = try run("vishwa", ["host", "list", "--home", home, "--json", "--timeout", "1"])
        let after = try #require(try JSONSerialization.jsonObject(with: Data(offline.stdout.utf8)) as? [[String: Any]])
        #expect(after.first?["online"] as? Bool == false)
        #expect(after.first?["last_seen"] is Int)
    }

    @Test func expiredAndMistypedCodesAreRefused() throws {
        let scratch = Scratch("expire")
        let host = try ShardHostProcess(in: scratch, name: "h1")
        defer { withExtendedLifetime(host) {} }  // the daemon lives as long as the test
        let home = try makeVault(in: scratch)
        let code = try host.invite(valid: "1s")
        Thread.sleep(forTimeInterval: 2.1)
        let expired = try run("vishwa", ["host", "add", "--home", home, code])
        #expect(expired.status == 18)
        #expect(expired.stderr.contains("pairing code expired"))

        var typo = Array(try host.invite())
        let last = typo.count - 3
        typo[last] = typo[last] == "A" ? "B" : "A"
        let mistyped = try run("vishwa", ["host", "add", "--home", home, String(typo)])
        #expect(mistyped.status == 16)
        #expect(mistyped.stderr == "vishwa: invalid pairing code: its checksum does not match (mistyped?)\n")
    }

    @Test func anUnpairedKeyIsRefusedBeforeAnyRequest() async throws {
        let scratch = Scratch("unpaired")
        let host = try ShardHostProcess(in: scratch, name: "h1")
        defer { withExtendedLifetime(host) {} }  // the daemon lives as long as the test
        let code = try PairingCode(parsing: try host.invite())
        let stranger = TestDevice()
        do {
            _ = try await stranger.connect(code)
            Issue.record("an unpaired device was accepted")
        } catch let error as TransportError {
            // (connect throws only TransportError; `as` keeps the test readable)
            guard case .refused(_, let reason) = error else {
                Issue.record("expected a refusal, got \(error)")
                return
            }
            #expect(reason.contains("not paired"))
        }
        // A paired device of another vault cannot reach this vault either: its vault id is bound at pairing.
        let device = TestDevice()
        let (connection, _) = try await device.pair(try host.invite())
        try await connection.ping()
        await connection.close()
        #expect(host.isRunning)
    }

    @Test func shardsRoundTripAndEveryOperationAnswers() async throws {
        let scratch = Scratch("ops")
        let host = try ShardHostProcess(in: scratch, name: "h1")
        defer { withExtendedLifetime(host) {} }  // the daemon lives as long as the test
        let device = TestDevice()
        let (connection, _) = try await device.pair(try host.invite())
        defer { Task { await connection.close() } }

        let ids = (0..<20).map { _ in randomID() }
        let shards = ids.map { _ in randomShard(Int.random(in: 1...300_000)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (id, shard) in zip(ids, shards) { group.addTask { try await connection.put(id, shard) } }
            try await group.waitForAll()
        }
        for (id, shard) in zip(ids, shards) {
            #expect(try await connection.get(id) == shard)
        }
        let ranged = try await connection.get(ids[0], offset: 1, length: 10)
        #expect(ranged == shards[0].getSlice(at: 1, length: 10))

        let missing = randomID()
        let sizes = try await connection.has(ids + [missing])
        #expect(sizes.dropLast().map { $0 } == shards.map { $0.readableBytes })
        #expect(sizes.last! == nil)

        var seen: [WireShardID] = []
        var cursor: WireShardID?
        repeat {
            let page = try await connection.list(after: cursor, limit: 7)
            seen += page.ids
            cursor = page.next
        } while cursor != nil
        #expect(seen == ids.sorted())

        let stat = try await connection.stat()
        #expect(stat.shardCount == 20)
        // Each file is charged its size with the 8-byte header, at least 4 KiB (docs/format.md §3.4).
        #expect(stat.usedBytes == UInt64(shards.map { max($0.readableBytes + 8, 4096) }.reduce(0, +)))

        #expect(try await connection.delete([ids[0], ids[1], missing]) == 2)
        await #expect(throws: TransportError.self) { try await connection.get(ids[0]) }
        do {
            _ = try await connection.get(missing)
        } catch {
            #expect(error.status == .notFound)
        }
        do {
            _ = try await connection.get(ids[2], offset: UInt64(shards[2].readableBytes), length: 1)
            Issue.record("a range past the end was served")
        } catch {
            #expect(error.status == .badRange)
        }

        try await connection.putBackup(generation: 7, randomShard(1000))
        let backup = try await connection.getBackup(generation: nil)
        #expect(backup.generation == 7)
        #expect(try await connection.listBackups() == [7])
    }

    @Test func aCorruptShardIsReportedAndNeverServed() async throws {
        let scratch = Scratch("rot")
        let host = try ShardHostProcess(in: scratch, name: "h1")
        defer { withExtendedLifetime(host) {} }  // the daemon lives as long as the test
        let device = TestDevice()
        let (connection, _) = try await device.pair(try host.invite())
        defer { Task { await connection.close() } }
        let id = randomID()
        try await connection.put(id, randomShard(50_000))

        let stored = try #require(files(under: host.dir + "/store/vaults").first { $0.hasSuffix(id.description) })
        let path = host.dir + "/store/vaults/" + stored
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: path))

        do {
            _ = try await connection.get(id)
            Issue.record("a rotted shard was served")
        } catch {
            #expect(error.status == .corrupt)
        }
        let scrub = try await connection.scrub()
        #expect(scrub.bad == [id])
        #expect(scrub.checked == 1)
    }

    @Test func putsPastTheQuotaAreRefused() async throws {
        let scratch = Scratch("quota")
        let host = try ShardHostProcess(in: scratch, name: "h1")
        defer { withExtendedLifetime(host) {} }  // the daemon lives as long as the test
        let device = TestDevice()
        let (connection, _) = try await device.pair(try host.invite(quota: "1M"))
        defer { Task { await connection.close() } }
        try await connection.put(randomID(), randomShard(700 << 10))
        let refused = randomID()
        do {
            try await connection.put(refused, randomShard(700 << 10))
            Issue.record("a put past the quota was stored")
        } catch {
            #expect(error.status == .quotaExceeded)
        }
        #expect(try await connection.has([refused]) == [nil])
        #expect(try await connection.stat().quotaBytes == 1 << 20)
    }

    /// SIGKILL while 16 PUTs are in flight: after a restart every acknowledged shard reads back
    /// intact and no partial or temp file is visible.
    @Test func aHostKilledMidPutKeepsEveryAcknowledgedShard() async throws {
        let scratch = Scratch("crash")
        let host = try ShardHostProcess(in: scratch, name: "h1")
        defer { withExtendedLifetime(host) {} }  // the daemon lives as long as the test
        let device = TestDevice()
        let (connection, code) = try await device.pair(try host.invite())
        let acknowledged = AckLog()

        let writers = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<16 {
                    group.addTask {
                        while true {
                            let id = randomID()
                            let shard = randomShard(Int.random(in: 10_000...400_000))
                            do {
                                try await connection.put(id, shard)
                                await acknowledged.add(id, shard)
                            } catch {
                                return
                            }
                        }
                    }
                }
            }
        }
        // Kill once a fair number of PUTs are acknowledged (and more are in flight), however slow the machine.
        let deadline = ContinuousClock.now + .seconds(120)
        while await acknowledged.entries.count < 20 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        host.kill()
        await writers.value
        await connection.close()
        let stored = await acknowledged.entries
        #expect(stored.count > 10, "too few puts acknowledged before the kill to mean anything")

        try host.start()
        let again = try await device.connect(code, port: host.port)
        defer { Task { await again.close() } }
        for (id, shard) in stored {
            #expect(try await again.get(id) == shard, "acknowledged shard \(id) lost or damaged")
        }
        let scrub = try await again.scrub()
        #expect(scrub.bad.isEmpty)
        let leftovers = files(under: host.dir + "/store").filter { $0.split(separator: "/").last!.hasPrefix(".tmp") }
        #expect(leftovers.isEmpty, "temp files visible after restart: \(leftovers)")
        // Every file in the store is a whole shard: the scrub checked them all, none partial.
        #expect(Int(scrub.checked) == files(under: host.dir + "/store/vaults").count)
    }

    @Test func sigtermStopsCleanly() throws {
        let scratch = Scratch("term")
        let host = try ShardHostProcess(in: scratch, name: "h1")
        defer { withExtendedLifetime(host) {} }  // the daemon lives as long as the test
        host.stop()
        #expect(host.process?.terminationStatus == 0)
        #expect(host.serveLog.contains("stopped"))
    }
}

actor AckLog {
    var entries: [(WireShardID, ByteBuffer)] = []
    func add(_ id: WireShardID, _ shard: ByteBuffer) { entries.append((id, shard)) }
}
