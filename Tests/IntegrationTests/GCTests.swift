import Foundation
import TestSupport
import Testing

@Suite(.ownThreads, .serialized, .timeLimit(.minutes(5))) struct GCTests {
    /// Overwrite and remove files, run gc: the hosts keep exactly the shards of live versions,
    /// and every live file still reads bit-exact.
    @Test func gcShrinksStoresToWhatLiveVersionsNeed() throws {
        let scratch = Scratch("gc")
        let home = try makeVault(in: scratch)
        let hosts = try pairedHosts(3, in: scratch, home: home)
        func shardCount() -> Int { hosts.map { files(under: $0.dir + "/store/vaults").count }.reduce(0, +) }

        let keep = scratch.path + "/keep"
        try Data(repeating: 1, count: (4 << 20) + 10).write(to: URL(fileURLWithPath: keep))
        #expect(try run("vishwa", ["upload", keep, "--home", home]).status == 0)
        let live = shardCount()
        #expect(live == 20)  // two chunks, ten shards each

        // A new version of `keep` (its old shards become garbage) and a file that is removed.
        try Data(repeating: 2, count: (4 << 20) + 10).write(to: URL(fileURLWithPath: keep))
        #expect(try run("vishwa", ["upload", keep, "--home", home]).status == 0)
        let gone = scratch.path + "/gone"
        try Data(repeating: 3, count: 5000).write(to: URL(fileURLWithPath: gone))
        #expect(try run("vishwa", ["upload", gone, "--home", home]).status == 0)
        #expect(try run("vishwa", ["rm", "/gone", "--home", home]).status == 0)
        #expect(shardCount() == 20 + 20 + 10)

        // A min-age not yet reached deletes nothing.
        let early = try run("vishwa", ["gc", "--min-age", "1h", "--home", home, "--json"])
        #expect(early.status == 0)
        #expect(early.stdout.contains("\"deleted\":0"))
        #expect(shardCount() == 50)

        let collected = try run("vishwa", ["gc", "--min-age", "0", "--home", home])
        #expect(collected.status == 0, "\(collected.stderr)")
        #expect(collected.stdout.hasPrefix("gc: 30 shards deleted"))
        #expect(shardCount() == 20)

        let out = scratch.path + "/out"
        #expect(try run("vishwa", ["download", "/keep", out, "--home", home]).status == 0)
        #expect(sameBytes(FileManager.default.contents(atPath: out), Data(repeating: 2, count: (4 << 20) + 10)))
        #expect(try run("vishwa", ["verify", "--home", home]).status == 0)
    }
}
