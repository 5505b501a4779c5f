import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite(.ownThreads, .serialized, .timeLimit(.minutes(10))) struct RecoveryTests {
    @Test func aDeletedHomeIsRebuiltFromTheRecoveryCodeAndOneHost() throws {
        let scratch = Scratch("recover")
        let home = scratch.path + "/home"
        let created = try run("vishwa", ["init", "--home", home, "--no-passphrase", "--json"])
        let code = try #require((try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: Any])?["recovery_code"] as? String)
        var hosts: [ShardHostProcess] = []
        for i in 0..<4 {
            let host = try ShardHostProcess(in: scratch, name: "h\(i)")
            #expect(try run("vishwa", ["host", "add", "--home", home, try host.invite()]).status == 0)
            hosts.append(host)
        }
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
        let bad = try run("vishwa", ["recover", "--home", home, "--recovery-code", String(typo), "--host", hosts[2].address,
                                     "--host-key", hostKey, "--no-passphrase"])
        #expect(bad.status == 14)
        #expect(!FileManager.default.fileExists(atPath: home))

        let recovered = try run("vishwa", ["recover", "--home", home, "--recovery-code", code, "--host", hosts[2].address,
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
        let again = try run("vishwa", ["recover", "--home", home, "--recovery-code", code, "--host", hosts[2].address,
                                       "--host-key", hostKey, "--no-passphrase"])
        #expect(again.status == 10)
    }

    /// SIGKILL of `vishwa` while it uploads a new version: the file is its old version, whole,
    /// and the catalog passes its own check.
    @Test func anInterruptedUploadLeavesTheOldVersionWhole() throws {
        let scratch = Scratch("interrupt")
        let home = try makeVault(in: scratch)
        var hosts: [ShardHostProcess] = []
        for i in 0..<3 {
            let host = try ShardHostProcess(in: scratch, name: "h\(i)")
            #expect(try run("vishwa", ["host", "add", "--home", home, try host.invite()]).status == 0)
            hosts.append(host)
        }
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
