import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite(.ownThreads, .serialized, .timeLimit(.minutes(10))) struct RecoveryTests {
    @Test func aDeletedHomeIsRebuiltFromTheRecoveryCodeAndOneHost() throws {
        let scratch = Scratch("recover")
        let home = try makeVault(in: scratch)
        let code = try recoveryCode(ofVaultAt: home)
        let hosts = try pairedHosts(4, in: scratch, home: home)
        var files: [String: Data] = [:]
        for (i, size) in [0, 1000, (4 << 20) + 7, 9 << 20].enumerated() {
            let local = scratch.path + "/f\(i)"
            let data = Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ i) })
            try data.write(to: URL(fileURLWithPath: local))
            let up = try run("vishwa", ["upload", local, "--folder", "docs/\(i)", "--tags", "t\(i)", "--home", home])
            #expect(up.status == 0, "\(up.stderr)")
            files["/docs/\(i)/f\(i)"] = data
        }
        let removed = scratch.path + "/gone"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: removed))
        #expect(try run("vishwa", ["upload", removed, "--home", home]).status == 0)
        #expect(try run("vishwa", ["rm", "/gone", "--home", home]).status == 0)

        let status = try run("vishwa-shard", ["status", "--dir", hosts[2].dir, "--json"])
        let hostKey = try #require((try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["host_key"] as? String)
        try FileManager.default.removeItem(atPath: home)

        // A mistyped code is named as such and writes nothing.
        var typo = Array(code)
        typo[0] = typo[0] == "A" ? "B" : "A"
        let bad = try run("vishwa", ["recover", "--home", home, "--insecure-recovery-code", String(typo), "--host", hosts[2].address,
                                     "--host-key", hostKey, "--no-passphrase"])
        #expect(bad.status == 14)
        #expect(bad.stderr.contains("visible to 'ps'"), "no warning for a code on the command line: \(bad.stderr)")
        // No terminal to ask and no file: refused before anything is done.
        let unasked = try run("vishwa", ["recover", "--home", home, "--host", hosts[2].address, "--host-key", hostKey, "--no-passphrase"])
        #expect(unasked.status != 0 && unasked.stderr.contains("--recovery-code-file"), "\(unasked.stderr)")
        let codeFile = scratch.path + "/recovery-code"
        try Data((code + "\n").utf8).write(to: URL(fileURLWithPath: codeFile))
        #expect(!FileManager.default.fileExists(atPath: home))

        let recovered = try run("vishwa", ["recover", "--home", home, "--recovery-code-file", codeFile, "--host", hosts[2].address,
                                           "--host-key", hostKey, "--no-passphrase"])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(recovered.stdout.contains("4 files, 4 hosts"))

        for (path, data) in files {
            let out = scratch.path + "/out-" + path.split(separator: "/").last!
            let got = try run("vishwa", ["download", path, out, "--home", home])
            #expect(got.status == 0, "\(path): \(got.stderr)")
            #expect(sameBytes(FileManager.default.contents(atPath: out), data), "\(path) differs after recovery")
        }
        let tagged = try run("vishwa", ["list", "--tag", "t2", "--json", "--home", home])
        #expect(tagged.stdout.contains("/docs/2/f2"))
        #expect(try run("vishwa", ["verify", "--catalog", "--home", home]).status == 0)

        // Recovering over an existing vault is refused.
        let again = try run("vishwa", ["recover", "--home", home, "--recovery-code-file", codeFile, "--host", hosts[2].address,
                                       "--host-key", hostKey, "--no-passphrase"])
        #expect(again.status == 10)
    }

    /// A catalog backup is chunked like a file, so its size is not bounded by what one message
    /// carries: here chunks of 4 KiB, many per backup, round-trip through recovery. The shards of
    /// generations hosts no longer keep are deleted by gc.
    @Test func aBackupOfManyChunksRoundTripsAndOldGenerationsAreCollected() throws {
        let scratch = Scratch("chunked")
        let home = try makeVault(in: scratch)
        let code = try recoveryCode(ofVaultAt: home)
        let hosts = try pairedHosts(3, in: scratch, home: home)
        var uploaded: [String: Data] = [:]
        for i in 0..<20 {
            let local = scratch.path + "/file\(i)"
            let data = Data((0..<(1000 * i)).map { UInt8(truncatingIfNeeded: $0 &* 17 &+ i) })
            try data.write(to: URL(fileURLWithPath: local))
            #expect(try run("vishwa", ["upload", local, "--folder", "d\(i % 4)", "--home", home]).status == 0)
            uploaded["/d\(i % 4)/file\(i)"] = data
        }
        let shardFiles = { hosts.map { files(under: $0.dir + "/store/vaults").count }.reduce(0, +) }
        let before = shardFiles()
        let backup = try run("vishwa", ["backup", "--chunk-size", "4096", "--home", home])
        #expect(backup.status == 0, "\(backup.stderr)")
        let catalogBytes = (try FileManager.default.attributesOfItem(atPath: home + "/catalog.sqlite")[.size] as? Int) ?? 0
        // Every chunk of at most 4 KiB is 10 shards.
        #expect(shardFiles() - before >= 10 * (catalogBytes / 2 / 4096), "\(shardFiles() - before) shards for a \(catalogBytes)-byte catalog")
        let generation = try #require(backup.stdout.split(separator: " ").compactMap { Int($0) }.first)

        try FileManager.default.removeItem(atPath: home)
        let codeFile = scratch.path + "/code"
        try Data(code.utf8).write(to: URL(fileURLWithPath: codeFile))
        let status = try run("vishwa-shard", ["status", "--dir", hosts[1].dir, "--json"])
        let hostKey = try #require((try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["host_key"] as? String)
        let recovered = try run("vishwa", ["recover", "--home", home, "--recovery-code-file", codeFile, "--host", hosts[1].address,
                                           "--host-key", hostKey, "--no-passphrase"])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(recovered.stdout.contains("20 files, 3 hosts (catalog backup generation \(generation))"), "\(recovered.stdout)")
        for (path, data) in uploaded {
            let out = scratch.path + "/out"
            try? FileManager.default.removeItem(atPath: out)
            #expect(try run("vishwa", ["download", path, out, "--home", home]).status == 0)
            #expect(sameBytes(FileManager.default.contents(atPath: out), data), "\(path) differs after recovery")
        }

        // Hosts keep 5 generations; gc deletes the shards of older ones (the restored one's
        // included), so the store holds at most 5 generations' worth.
        let chunked = ["backup", "--chunk-size", "4096", "--home", home]
        for _ in 0..<9 { #expect(try run("vishwa", chunked).status == 0) }
        let beforeLast = shardFiles()
        #expect(try run("vishwa", chunked).status == 0)
        let last = shardFiles() - beforeLast
        #expect(try run("vishwa", ["gc", "--min-age", "0", "--home", home]).status == 0)
        let kept = shardFiles() - before
        #expect(last > 0 && kept <= 5 * last, "\(kept) backup shards kept, \(last) in the newest generation")
    }

    /// A backup that fails is shown by `vishwa status` until one succeeds.
    @Test func aFailedBackupShowsInStatus() throws {
        let scratch = Scratch("backup-fails")
        let home = try makeVault(in: scratch)
        let hosts = try pairedHosts(2, in: scratch, home: home)
        hosts[1].stop()
        #expect(try run("vishwa", ["backup", "--home", home]).status != 0)
        let failing = try run("vishwa", ["status", "--home", home])
        #expect(failing.stdout.contains("catalog backup FAILED"), "\(failing.stdout)")
        let json = try run("vishwa", ["status", "--json", "--home", home])
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((report?["backup_error"] as? String)?.contains("2 hosts") == true, "\(json.stdout)")

        try hosts[1].start()
        #expect(try run("vishwa", ["backup", "--home", home]).status == 0)
        #expect(!(try run("vishwa", ["status", "--home", home])).stdout.contains("FAILED"))
    }

    /// SIGKILL of `vishwa` while it uploads a new version: the file is its old version, whole,
    /// and the catalog passes its own check.
    @Test func anInterruptedUploadLeavesTheOldVersionWhole() throws {
        let scratch = Scratch("interrupt")
        let home = try makeVault(in: scratch)
        let hosts = try pairedHosts(3, in: scratch, home: home)
        let local = scratch.path + "/big"
        let old = Data((0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try old.write(to: URL(fileURLWithPath: local))
        #expect(try run("vishwa", ["upload", local, "--home", home]).status == 0)

        // Version 2: 100 chunks, so it is surely midway when its first shards have landed.
        let new = scratch.path + "/big2"
        _ = FileManager.default.createFile(atPath: new, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: new))
        for i in 0..<100 { handle.write(Data(repeating: UInt8(i), count: 4 << 20)) }
        try handle.close()
        try FileManager.default.removeItem(atPath: local)
        try FileManager.default.moveItem(atPath: new, toPath: local)

        let upload = Process()
        upload.executableURL = binDirectory.appendingPathComponent("vishwa")
        upload.arguments = ["upload", local, "--home", home]
        upload.standardOutput = FileHandle.nullDevice
        upload.standardError = FileHandle.nullDevice
        // Kill as soon as the hosts hold shards of version 2 (whatever the machine's speed):
        // some of its chunks are stored, most are not, and nothing is committed.
        let before = hosts.map { files(under: $0.dir + "/store/vaults").count }.reduce(0, +)
        try upload.run()
        let deadline = Date().addingTimeInterval(60)
        while upload.isRunning && Date() < deadline
            && hosts.map({ files(under: $0.dir + "/store/vaults").count }).reduce(0, +) < before + 20 {
            Thread.sleep(forTimeInterval: 0.005)
        }
        kill(upload.processIdentifier, SIGKILL)
        upload.waitUntilExit()
        #expect(upload.terminationReason == .uncaughtSignal, "the upload finished before it could be interrupted")

        let out = scratch.path + "/out"
        let got = try run("vishwa", ["download", "/big", out, "--home", home])
        #expect(got.status == 0, "\(got.stderr)")
        let data = try #require(FileManager.default.contents(atPath: out))
        #expect(sameBytes(data, old), "after the interrupted upload /big is \(data.count) bytes, not its old version of \(old.count)")
        let check = try run("vishwa", ["verify", "--catalog", "--home", home])
        #expect(check.status == 0, "\(check.stdout)")

        // The killed upload's stored shards were on record as pending; gc finds their process
        // gone and deletes them: the hosts keep exactly the old version's ten shards.
        let collected = try run("vishwa", ["gc", "--min-age", "0", "--home", home])
        #expect(collected.status == 0, "\(collected.stderr)")
        #expect(hosts.map { files(under: $0.dir + "/store/vaults").count }.reduce(0, +) == 10, "\(collected.stdout)")
    }

    @Test func aCatalogFromANewerVersionIsRefused() throws {
        let scratch = Scratch("schema")
        let home = try makeVault(in: scratch)
        #expect(try run("vishwa", ["list", "--home", home]).status == 0)
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sqlite.arguments = ["python3", "-c", """
            import sqlite3; c = sqlite3.connect('\(home)/catalog.sqlite')
            c.execute("INSERT INTO grdb_migrations (identifier) VALUES ('v99-future')"); c.commit()
            """]
        try sqlite.run()
        sqlite.waitUntilExit()
        #expect(sqlite.terminationStatus == 0)
        let result = try run("vishwa", ["list", "--home", home])
        #expect(result.status == 19)
        #expect(result.stderr.contains("written by a newer vishwa"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func fullHostsRefuseTheUploadClearly() throws {
        let scratch = Scratch("full")
        let home = try makeVault(in: scratch)
        var hosts: [ShardHostProcess] = []  // alive for the whole test: a dropped host is stopped
        for i in 0..<2 {
            let host = try ShardHostProcess(in: scratch, name: "h\(i)")
            #expect(try run("vishwa", ["host", "add", "--home", home, try host.invite(quota: "1M")]).status == 0)
            hosts.append(host)
        }
        let local = scratch.path + "/f"
        try Data(repeating: 9, count: 12 << 20).write(to: URL(fileURLWithPath: local))
        let result = try run("vishwa", ["upload", local, "--home", home])
        #expect(result.status == 20, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("vishwa: hosts are full"), "\(result.stderr)")
        #expect(hosts.allSatisfy { $0.isRunning })
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(try run("vishwa", ["list", "--json", "--home", home]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
    }
}
