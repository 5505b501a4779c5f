import Foundation
import TestSupport
import Testing

@Suite(.ownThreads, .serialized, .timeLimit(.minutes(5))) struct FsckTests {
    /// Delete and corrupt shard files on hosts: fsck finds them (--deep finds the corrupt one too),
    /// --repair rebuilds them, and a second fsck is clean. Exit codes as fsck(8).
    @Test func fsckFindsAndRepairsDeletedAndCorruptShards() throws {
        let scratch = Scratch("fsck")
        let home = try makeVault(in: scratch)
        let hosts = try pairedHosts(5, in: scratch, home: home)
        let local = scratch.path + "/f"
        let data = Data((0..<((4 << 20) + 999)).map { UInt8(truncatingIfNeeded: $0 &* 17) })
        try data.write(to: URL(fileURLWithPath: local))
        #expect(try run("vishwa", ["upload", local, "--home", home]).status == 0)
        #expect(try run("vishwa", ["fsck", "--deep", "--home", home]).status == 0)

        let shardFiles = hosts.flatMap { host in files(under: host.dir + "/store/vaults").map { host.dir + "/store/vaults/" + $0 } }
        #expect(shardFiles.count == 20)
        try FileManager.default.removeItem(atPath: shardFiles[0])
        try FileManager.default.removeItem(atPath: shardFiles[7])
        var bytes = try Data(contentsOf: URL(fileURLWithPath: shardFiles[13]))
        bytes[bytes.count - 5] ^= 0x10
        try bytes.write(to: URL(fileURLWithPath: shardFiles[13]))

        let shallow = try run("vishwa", ["fsck", "--home", home, "--json"])
        #expect(shallow.status == 4, "\(shallow.stdout) \(shallow.stderr)")
        #expect(shallow.stdout.contains("\"missingShards\":2"))

        let deep = try run("vishwa", ["fsck", "--deep", "--home", home, "--json"])
        #expect(deep.status == 4)
        #expect(deep.stdout.contains("\"missingShards\":2"))
        #expect(deep.stdout.contains("\"corruptShards\":1"))

        let repaired = try run("vishwa", ["fsck", "--deep", "--repair", "--home", home])
        #expect(repaired.status == 1, "\(repaired.stdout) \(repaired.stderr)")
        #expect(repaired.stdout.contains("3 rebuilt"))

        let again = try run("vishwa", ["fsck", "--deep", "--home", home])
        #expect(again.status == 0, "\(again.stdout)")
        #expect(try run("vishwa", ["verify", "--home", home]).status == 0)

        // The rotted copy is now garbage: gc removes it, and the file still reads bit-exact.
        #expect(try run("vishwa", ["gc", "--min-age", "0", "--home", home]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: shardFiles[13]))
        let out = scratch.path + "/out"
        #expect(try run("vishwa", ["download", "/f", out, "--home", home]).status == 0)
        #expect(sameBytes(FileManager.default.contents(atPath: out), data))
    }
}

@Suite(.ownThreads, .serialized, .timeLimit(.minutes(5))) struct HostRemovalTests {
    /// A host declared gone (here: killed first) has its shards rebuilt on the others within the
    /// cap before it is forgotten; files stay whole and fsck is clean.
    @Test func removingAHostMovesItsShardsFirst() throws {
        let scratch = Scratch("remove")
        let home = try makeVault(in: scratch)
        let hosts = try pairedHosts(6, in: scratch, home: home)
        let local = scratch.path + "/f"
        let data = Data((0..<(9 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 29) })
        try data.write(to: URL(fileURLWithPath: local))
        #expect(try run("vishwa", ["upload", local, "--home", home]).status == 0)

        hosts[2].kill()
        let removed = try run("vishwa", ["host", "remove", hosts[2].address, "--home", home])
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(removed.stdout.hasPrefix("removed \(hosts[2].address)"))
        let listed = try run("vishwa", ["host", "list", "--json", "--home", home])
        #expect(!listed.stdout.contains(hosts[2].address))

        let fsck = try run("vishwa", ["fsck", "--deep", "--home", home])
        #expect(fsck.status == 0, "\(fsck.stdout)")
        // Five hosts left, 10 shards per chunk: 2 each, so no host holds 6 of one chunk.
        for host in hosts where host.isRunning {
            #expect(files(under: host.dir + "/store/vaults").count == 6)  // 3 chunks x 2 shards
        }
        let out = scratch.path + "/out"
        #expect(try run("vishwa", ["download", "/f", out, "--home", home]).status == 0)
        #expect(sameBytes(FileManager.default.contents(atPath: out), data))
    }
}
