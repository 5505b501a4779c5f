import Foundation
import TestSupport
import Testing

/// The codec benchmark's output shape and its memory figures. Rates are not asserted here (the
/// machine is shared and noisy); they are read from `vishwa bench codec` in release builds.
@Suite(.ownThreads) struct BenchTests {
    @Test func codecBenchmarkReportsEveryFieldAndEncodingAllocatesOnlyTheShards() throws {
        let result = try CLI.run(["bench", "codec", "--json", "--rounds", "1", "--iterations", "1"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(json(result.stdout))
        for field in ["encode_mbps", "decode_mbps", "decode_degraded_mbps",
                      "raw_encode_mbps", "raw_decode_mbps", "raw_decode_degraded_mbps"] {
            let value = try #require(object[field] as? Double, "missing \(field)")
            #expect(value > 0)
        }
        let chunk = try #require(object["chunk_bytes"] as? Int)
        let shards = try #require(object["encode_shard_bytes"] as? Int)
        #expect(chunk == 4 << 20)
        let piece = (chunk + 5) / 6
        #expect(shards == 10 * (84 + piece + 16 * ((piece + 65_535) / 65_536)))  // format 2: a tag per 64 KiB segment
        // Peak growth comes from the kernel's resident-set high-water mark (/proc/self/clear_refs,
        // writable here as on CI): a missing figure is a failure, not a skipped check.
        let encodeAlloc = try #require(object["encode_peak_alloc_bytes"] as? Int)
        // The shards, plus under 1 MiB of bookkeeping: a second copy of the 4 MiB chunk would show.
        #expect(encodeAlloc <= shards + (1 << 20), "encode grew the heap by \(encodeAlloc) bytes")
        #expect(encodeAlloc >= shards - (64 << 10), "the measurement missed the shards themselves")
        let decodeAlloc = try #require(object["decode_degraded_peak_alloc_bytes"] as? Int)
        // The output chunk plus the m parity pieces it decrypts.
        #expect(decodeAlloc <= chunk + 4 * ((chunk + 5) / 6) + (1 << 20), "decode grew by \(decodeAlloc)")
    }
}
