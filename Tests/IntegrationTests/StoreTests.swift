import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Five real hosts, the `vishwa` CLI end to end: upload, download, host losses, rot, placement cap.
@Suite(.ownThreads, .serialized, .timeLimit(.minutes(10))) struct StoreTests {
    /// Five hosts paired with one vault.
    final class Cluster: @unchecked Sendable {
        let scratch = Scratch("store")
        var hosts: [ShardHostProcess] = []
        let home: String

        init(hosts count: Int = 5) throws {
            home = try makeVault(in: scratch)
            for i in 0..<count {
                let host = try ShardHostProcess(in: scratch, name: "h\(i)")
                let added = try run("vishwa", ["host", "add", "--home", home, try host.invite()])
                guard added.status == 0 else { throw TestFailure("host add: \(added.stderr)") }
                hosts.append(host)
            }
        }

        func vishwa(_ arguments: [String]) throws -> CommandResult {
            try run("vishwa", arguments + ["--home", home])
        }

        func file(_ name: String, size: Int) throws -> String {
            let path = scratch.path + "/" + name
            var bytes = [UInt8](repeating: 0, count: size)
            var state = UInt64(size) &+ 0x9E37_79B9
            for i in stride(from: 0, to: size, by: 8) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                withUnsafeBytes(of: state) { word in
                    for j in 0..<min(8, size - i) { bytes[i + j] = word[j] }
                }
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return path
        }

        /// Shard files on each host, as (host index, path).
        func shardFiles() -> [(Int, String)] {
            hosts.enumerated().flatMap { i, host in
                files(under: host.dir + "/store/vaults").map { (i, host.dir + "/store/vaults/" + $0) }
            }
        }
    }

    static let sizes = [0, 1, 4 << 20, (4 << 20) + 1, 300 << 20]

    @Test func filesSurviveHostLossesAndRotAndFailClearlyBeyond() throws {
        let cluster = try Cluster()
        var originals: [String: String] = [:]  // store path -> local path
        for size in Self.sizes {
            let local = try cluster.file("f\(size)", size: size)
            let up = try cluster.vishwa(["upload", local, "--folder", "t"])
            #expect(up.status == 0, "upload of \(size) B: \(up.stderr)")
            originals["/t/f\(size)"] = local
        }
        func downloadAll(_ label: String) throws {
            for (stored, local) in originals {
                let out = cluster.scratch.path + "/out-\(label)-" + stored.split(separator: "/").last!
                let got = try cluster.vishwa(["download", stored, out])
                #expect(got.status == 0, "\(label): download of \(stored): \(got.stderr)")
                #expect(FileManager.default.contentsEqual(atPath: out, andPath: local), "\(label): \(stored) differs")
                try? FileManager.default.removeItem(atPath: out)
            }
        }
        try downloadAll("healthy")

        // No host ever holds k (6) or more shards of one chunk: 10 shards over 5 hosts, 2 each.
        var perHostChunk: [String: Int] = [:]
        let listing = try cluster.vishwa(["list", "--json"])
        #expect(listing.status == 0)
        for (host, path) in cluster.shardFiles() {
            // Shard ids are random; count shards per host per chunk through the shard header (bytes 8+ of the file).
            guard let data = FileManager.default.contents(atPath: path), data.count >= 8 + 60 else { continue }
            let header = data.subdata(in: 8..<68)
            let chunkKey = header.subdata(in: 28..<60).map { String(format: "%02x", $0) }.joined()
            perHostChunk["\(host)-\(chunkKey)", default: 0] += 1
        }
        #expect(!perHostChunk.isEmpty)
        #expect(perHostChunk.values.allSatisfy { $0 < 6 }, "a host holds 6 or more shards of one chunk")
        #expect(perHostChunk.values.max() == 2)

        // Any two hosts lost: everything still reads.
        cluster.hosts[1].kill()
        cluster.hosts[3].kill()
        try downloadAll("two-down")
        // Status names the exposure: every non-empty file keeps shards on the two lost hosts.
        let status = try cluster.vishwa(["status"])
        #expect(status.status == 0 && status.stdout.contains("hosts: 3 of 5 online"), "\(status.stdout)\(status.stderr)")
        #expect(status.stdout.contains("on offline hosts: shards of 4 files"), "\(status.stdout)")

        // Rot on disk: flip a byte in 4 shard files on surviving hosts; still bit-exact.
        let survivors = cluster.shardFiles().filter { $0.0 != 1 && $0.0 != 3 }
        for (_, path) in survivors.prefix(4) {
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            bytes[bytes.count - 20] ^= 0x40
            try bytes.write(to: URL(fileURLWithPath: path))
        }
        try cluster.hosts[1].start()
        try cluster.hosts[3].start()
        try downloadAll("rotted")

        // Three hosts lost: a clear failure naming what is missing, and no output file.
        cluster.hosts[0].kill()
        cluster.hosts[1].kill()
        cluster.hosts[2].kill()
        let out = cluster.scratch.path + "/never"
        let failed = try cluster.vishwa(["download", "/t/f\(4 << 20)", out])
        #expect(failed.status == 21)
        #expect(failed.stderr.contains("cannot read /t/f\(4 << 20): chunk 0 has only"))
        #expect(failed.stderr.contains("needed"))
        #expect(!FileManager.default.fileExists(atPath: out))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: cluster.scratch.path).filter { $0.contains("vishwa-part") }
        #expect(leftovers.isEmpty)
    }

    @Test func badInputGetsOneLineAndChangesNothing() throws {
        let cluster = try Cluster(hosts: 2)
        let local = try cluster.file("small", size: 1000)
        #expect(try cluster.vishwa(["upload", local]).status == 0)
        let before = try cluster.vishwa(["list", "--json"]).stdout

        let cases: [([String], Int32, String)] = [
            (["upload", cluster.scratch.path + "/missing"], 15, "cannot read"),
            (["upload", cluster.scratch.path], 16, "is not a regular file"),
            (["download", "nonexistent-file", cluster.scratch.path + "/x"], 16, "not found in the store"),
            (["download", "/small", cluster.scratch.path], 16, "is a directory"),
            (["upload", local, "--tags", "a,,b"], 16, "invalid tag"),
            (["rm", "0123456789abcdef0123456789abcdef"], 16, "not found"),
        ]
        for (arguments, status, message) in cases {
            let result = try cluster.vishwa(arguments)
            #expect(result.status == status, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)")
        }
        #expect(try cluster.vishwa(["list", "--json"]).stdout == before)

        // No hosts paired.
        let lonely = try makeVault(in: cluster.scratch, name: "lonely")
        let none = try run("vishwa", ["upload", local, "--home", lonely])
        #expect(none.status == 20)
        #expect(none.stderr.contains("no hosts paired"))
    }
}
