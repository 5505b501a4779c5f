import ArgumentParser
import VishwaBench
import VishwaCore

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure throughput on this machine.",
        subcommands: [BenchCodec.self])
}

struct BenchCodec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codec",
        abstract: "Encode and decode rates of the shard codec, one core, against the raw libsodium and ISA-L calls.",
        discussion: """
            Rates are MB/s (10^6 bytes) of plaintext, medians over rounds that alternate our codec and \
            the raw calls on the same buffers, so machine noise hits both alike. "degraded" decodes with \
            m data shards lost.
            """)

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false

    @Option(name: .long, help: "Rounds to take the median over.")
    var rounds = 9

    @Option(name: .long, help: "Chunks per round and measurement.")
    var iterations = 12

    @Option(name: .long, help: "Data shards.")
    var k = 6

    @Option(name: .long, help: "Parity shards.")
    var m = 4

    @Option(name: .long, help: "Chunk size, e.g. 4M.")
    var chunkSize = "4M"

    func run() throws {
        try reportingErrors {
            guard let size = ByteCount(parsing: chunkSize) else { throw InputError("cannot read chunk size '\(chunkSize)'") }
            guard rounds >= 1, iterations >= 1 else { throw InputError("--rounds and --iterations must be at least 1") }
            let parameters = try CodingParameters(k: k, m: m, chunkSize: size.bytes)
            let result = try CodecBenchmark(parameters: parameters, rounds: rounds, iterationsPerRound: iterations).run()
            if json { try printJSON(result) } else { printTable(result) }
        }
    }

    private func printTable(_ r: CodecBenchmark.Result) {
        func row(_ name: String, _ ours: Double, _ raw: Double) {
            let text = [name.padding(16), fmt(ours).leftPadding(10), fmt(raw).leftPadding(10),
                        String(format2(ours / raw)).leftPadding(8)]
            print(text.joined(separator: "  "))
        }
        print("codec \(r.k)+\(r.m), \(ByteCount(r.chunk_bytes)) chunks, one core (MB/s of plaintext)")
        print(["".padding(16), "vishwa".leftPadding(10), "raw".leftPadding(10), "ratio".leftPadding(8)].joined(separator: "  "))
        row("encode", r.encode_mbps, r.raw_encode_mbps)
        row("decode", r.decode_mbps, r.raw_decode_mbps)
        row("decode degraded", r.decode_degraded_mbps, r.raw_decode_degraded_mbps)
        if let alloc = r.encode_peak_alloc_bytes {
            print("encode peak allocation: \(ByteCount(alloc)) (the \(r.k + r.m) shards take \(ByteCount(r.encode_shard_bytes)))")
        }
    }

    private func fmt(_ value: Double) -> String { String(Int(value.rounded())) }
    private func format2(_ value: Double) -> String { String(Double(Int((value * 100).rounded())) / 100) }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
    func leftPadding(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
