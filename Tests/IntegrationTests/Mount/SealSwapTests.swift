import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite(.ownThreads, .serialized, .timeLimit(.minutes(5))) struct SealSwapTests {
    /// A chunk written, sealed early (it filled up), then rewritten before close is sealed twice
    /// under one version. A host that kept a shard of the first seal and serves it for the second
    /// (here: the test copies the old shard file over the new one on the host's disk, CRC and all)
    /// must give an erasure: the file reads back as written last, bit-exact; fsck --deep reports
    /// the shard; --repair rebuilds it from the good ones, never into a mixed chunk.
    @Test func aShardOfAnEarlierSealOfTheSameChunkIsAnErasure() throws {
        let vault = try MountedVault(label: "swap")
        let chunkSize = 4 << 20
        let first = [UInt8]((0..<chunkSize).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) })
        let second = [UInt8]((0..<chunkSize).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 3) })

        let fd = open(vault.mountpoint + "/f", O_CREAT | O_WRONLY, 0o644)
        #expect(fd >= 0)
        var isOpen = fd >= 0
        defer { if isOpen { close(fd) } }  // only once: a second close could hit another descriptor
        #expect(first.withUnsafeBytes { pwrite(fd, $0.baseAddress, chunkSize, 0) } == chunkSize)
        // The full chunk is sealed in the background: wait for its 10 shards on the hosts.
        var early: [Int: Data] = [:]
        let deadline = Date().addingTimeInterval(60)
        while early.count < 10 && Date() < deadline {
            early = shardFiles(vault).reduce(into: [:]) { found, file in found[file.index] = file.bytes }
            if early.count < 10 { Thread.sleep(forTimeInterval: 0.1) }
        }
        #expect(early.count == 10, "the first seal's shards did not appear: \(vault.log.suffix(2000))")

        #expect(second.withUnsafeBytes { pwrite(fd, $0.baseAddress, chunkSize, 0) } == chunkSize)
        isOpen = false
        #expect(close(fd) == 0)
        vault.unmount()

        // The second seal's shards: those whose bytes are not the first seal's.
        let late = shardFiles(vault).filter { early[$0.index] != $0.bytes }
        let target = try #require(late.first { $0.index == 0 }, "no shard 0 of the second seal")
        try #require(early[0]).write(to: URL(fileURLWithPath: target.path))

        // A small read through the mount (a cold cache: range reads from the covering data shard,
        // which is the swapped one) gets the new bytes too.
        try vault.mount()
        let mounted = open(vault.mountpoint + "/f", O_RDONLY)
        #expect(mounted >= 0)
        var small = [UInt8](repeating: 0, count: 4096)
        #expect(small.withUnsafeMutableBytes { pread(mounted, $0.baseAddress, 4096, 100) } == 4096)
        let smallMatches = small == Array(second[100..<4196])
        #expect(smallMatches, "a range read mixed two encodings of the chunk")
        close(mounted)
        vault.unmount()

        let out = vault.scratch.path + "/out"
        let read = try run("vishwa", ["download", "/f", out, "--home", vault.home])
        #expect(read.status == 0, "\(read.stderr)")
        #expect(FileManager.default.contents(atPath: out) == Data(second), "the read mixed two encodings of the chunk")

        let deep = try run("vishwa", ["fsck", "--deep", "--json", "--home", vault.home])
        #expect(deep.status != 0, "\(deep.stdout) \(deep.stderr)")
        #expect(deep.stdout.contains("\"corruptShards\":1"), "\(deep.stdout)")

        let repaired = try run("vishwa", ["fsck", "--deep", "--repair", "--home", vault.home])
        #expect(repaired.stdout.contains("1 rebuilt"), "\(repaired.stdout) \(repaired.stderr)")
        #expect(try run("vishwa", ["fsck", "--deep", "--home", vault.home]).status == 0)
        try? FileManager.default.removeItem(atPath: out)
        #expect(try run("vishwa", ["download", "/f", out, "--home", vault.home]).status == 0)
        #expect(FileManager.default.contents(atPath: out) == Data(second))
    }

    /// Every shard file on the vault's hosts with the index its header claims (a host file is
    /// `VWSF`, a CRC32C, then the shard, whose byte 7 is its index).
    private func shardFiles(_ vault: MountedVault) -> [(path: String, index: Int, bytes: Data)] {
        vault.hosts.flatMap { host -> [(path: String, index: Int, bytes: Data)] in
            let root = host.dir + "/store/vaults"
            return files(under: root).compactMap { name in
                let path = root + "/" + name
                guard let bytes = FileManager.default.contents(atPath: path), bytes.count > 8 + 84 else { return nil }
                return (path, Int(bytes[bytes.startIndex + 15]), bytes)
            }
        }
    }
}
