import Foundation
import Testing

/// The codec benchmark's output shape and its memory figures. Rates are not asserted here (the
/// machine is shared and noisy); they are read from `vishwa bench codec` in release builds.
@Suite struct BenchTests {
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
        #expect(shards == 10 * (84 + 16 + (chunk + 5) / 6))
        // Peak growth is measured from the kernel's resident-set high-water mark; it is absent only
        // where /proc/self/clear_refs is not writable.
        if let encodeAlloc = object["encode_peak_alloc_bytes"] as? Int {
            // The shards, plus under 1 MiB of bookkeeping: a second copy of the 4 MiB chunk would show.
            #expect(encodeAlloc <= shards + (1 << 20), "encode grew the heap by \(encodeAlloc) bytes")
        }
        if let decodeAlloc = object["decode_degraded_peak_alloc_bytes"] as? Int {
            // The output chunk plus the m parity pieces it decrypts.
            #expect(decodeAlloc <= chunk + 4 * ((chunk + 5) / 6) + (1 << 20), "decode grew by \(decodeAlloc)")
        }
    }
}
