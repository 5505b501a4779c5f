import Foundation
import NIOCore
import TestSupport
import Testing
import VishwaCore
import VishwaWire

/// Hosts are not trusted: a host answering nonsense, serving old catalog backups or forged ones
/// must neither crash a client nor roll its catalog back.
@Suite(.ownThreads, .serialized, .timeLimit(.minutes(10))) struct HostTrustTests {
    /// The JSON objects `vishwa devices --json` prints.
    func devices(_ home: String) throws -> [[String: Any]] {
        let listed = try run("vishwa", ["devices", "--json", "--home", home])
        #expect(listed.status == 0, "\(listed.stderr)")
        return (try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]]) ?? []
    }

    @Test func aHostAnsweringNonsenseIsMarkedFaultyAndCrashesNothing() async throws {
        let scratch = Scratch("liar-stat")
        let home = try makeVault(in: scratch)
        let hosts = try pairedHosts(2, in: scratch, home: home)
        defer { withExtendedLifetime(hosts) {} }  // the hosts serve until the test ends
        let liar = try await LyingHost.start()
        liar.service.state.withLock {
            $0.stat = StatReply(capacityBytes: .max, freeBytes: .max, usedBytes: .max, shardCount: .max,
                                quotaBytes: .max - 1, version: "liar")
        }
        // The liar is served inside this test process: on a machine overloaded by the other
        // suites starting, its handshake may miss the client's 10 s limit once; that is not
        // what this test is about, so a timed-out attempt is made again.
        var added = try run("vishwa", ["host", "add", "--home", home, liar.code])
        for _ in 0..<2 where added.status != 0 && added.stderr.contains("timed out") {
            added = try run("vishwa", ["host", "add", "--home", home, liar.code])
        }
        #expect(added.status == 0, "host add ended with \(added.status): \(added.stderr)")
        #expect(added.stderr.contains("faulty"), "\(added.stderr)")

        var listed = try devices(home)
        #expect(listed.count == 3)
        let lying = try #require(listed.first { $0["address"] as? String == liar.address })
        #expect((lying["faulty"] as? String)?.contains("more than any disk") == true, "\(lying)")
        #expect(lying["free_bytes"] == nil || lying["free_bytes"] is NSNull)
        #expect(listed.filter { $0["address"] as? String != liar.address }.allSatisfy { $0["faulty"] == nil || $0["faulty"] is NSNull })
        let text = try run("vishwa", ["host", "list", "--home", home])
        #expect(text.status == 0 && text.stdout.contains("FAULTY"), "\(text.stdout)")
        let status = try run("vishwa", ["status", "--home", home])
        #expect(status.status == 0, "\(status.stderr)")

        // Figures that contradict each other are as untrusted as absurd ones.
        liar.service.state.withLock {
            $0.stat = StatReply(capacityBytes: 1000, freeBytes: 5000, usedBytes: 0, shardCount: 0, quotaBytes: nil, version: "liar")
        }
        listed = try devices(home)
        let contradicting = try #require(listed.first { $0["address"] as? String == liar.address })
        #expect((contradicting["faulty"] as? String)?.contains("more free space") == true, "\(contradicting)")

        // A faulty host is given no shards.
        let local = scratch.path + "/f"
        try Data(repeating: 7, count: 100_000).write(to: URL(fileURLWithPath: local))
        let upload = try run("vishwa", ["upload", local, "--home", home])
        #expect(upload.status == 0, "\(upload.stderr)")
        #expect(liar.service.state.withLock { $0.puts } == 0)

        let removed = try run("vishwa", ["host", "remove", liar.address, "--home", home])
        #expect(removed.status == 0, "\(removed.stderr)")
        await liar.server.stop()
    }

    @Test func recoveryTakesTheNewestGenerationWhateverOneHostServes() async throws {
        let scratch = Scratch("liar-backup")
        let home = try makeVault(in: scratch)
        let code = try recoveryCode(ofVaultAt: home)
        let hosts = try pairedHosts(2, in: scratch, home: home)
        defer { withExtendedLifetime(hosts) {} }  // the hosts serve until the test ends
        let liar = try await LyingHost.start()
        #expect(try run("vishwa", ["host", "add", "--home", home, liar.code]).status == 0)

        let first = scratch.path + "/first"
        try Data("first".utf8).write(to: URL(fileURLWithPath: first))
        #expect(try run("vishwa", ["upload", first, "--home", home]).status == 0)
        let old = try #require(liar.service.state.withLock { $0.backups.keys.max() })

        // From here on the liar keeps only the old generation, and offers forged newer ones:
        // a v2 blob whose sealed part is noise, and a v1 blob claiming k=1, m=254 and a 256 MiB
        // catalog (a client sizing buffers by it asks for tens of GiB).
        liar.service.state.withLock { state in
            state.dropsBackups = true
            var noise = ByteBuffer(bytes: Array("VWCB".utf8) + [2])
            noise.writeInteger(UInt64(1_000_000))
            noise.writeBytes((0..<200).map { _ in UInt8.random(in: 0...255) })
            state.forged[1_000_000] = noise
            var absurd = ByteBuffer(bytes: Array("VWCB".utf8) + [1])
            absurd.writeInteger(UInt64(999_999))
            absurd.writeInteger(UInt32(256 << 20))
            absurd.writeBytes([1, 254])
            absurd.writeInteger(UInt32(64))
            absurd.writeBytes((0..<64).map { _ in UInt8.random(in: 0...255) })
            absurd.writeInteger(UInt16(1))
            absurd.writeBytes([0])
            absurd.writeInteger(UInt32(1 << 20))
            absurd.writeBytes([UInt8](repeating: 0, count: 1 << 20))
            state.forged[999_999] = absurd
        }
        let second = scratch.path + "/second"
        try Data("second".utf8).write(to: URL(fileURLWithPath: second))
        #expect(try run("vishwa", ["upload", second, "--home", home]).status == 0)
        let backup = try run("vishwa", ["backup", "--home", home])
        #expect(backup.status == 0, "\(backup.stderr)")

        try FileManager.default.removeItem(atPath: home)
        let codeFile = scratch.path + "/code"
        try Data((code + "\n").utf8).write(to: URL(fileURLWithPath: codeFile))
        let recovered = try run("vishwa", ["recover", "--home", home, "--recovery-code-file", codeFile, "--host", liar.address,
                                           "--host-key", Hex.encode(liar.service.keyPair.publicKey), "--no-passphrase"])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(!recovered.stdout.contains("generation \(old))"), "rolled back to the liar's generation: \(recovered.stdout)")
        let listed = try run("vishwa", ["list", "--home", home])
        #expect(listed.stdout.contains("second"), "the newest catalog lost /second: \(listed.stdout)")
        let out = scratch.path + "/out"
        #expect(try run("vishwa", ["download", "/second", out, "--home", home]).status == 0)
        #expect(FileManager.default.contents(atPath: out) == Data("second".utf8))
        await liar.server.stop()
    }
}
