import ArgumentParser
import VishwaBench
import VishwaCore
import VishwaTransport
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure throughput on this machine.",
        subcommands: [BenchCodec.self, BenchTransport.self, BenchUpload.self, BenchDownload.self])
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

struct BenchTransport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transport",
        abstract: "PUT and GET throughput of 700 KiB shards (16 in flight) and small-GET latency against a host.",
        discussion: """
            With no --host, starts its own vishwa-shard on 127.0.0.1 and stops it after. With --host, uses \
            a host already paired with the vault in --home (it writes and then deletes its own shards there).
            """)

    @Option(name: .long, help: "A paired host to measure (HOST:PORT).")
    var host: String?

    @OptionGroup var unlock: UnlockOptions

    @Flag(name: .long, help: "Print one JSON object: put_mbps, get_mbps, get_small_p50_ms, get_small_p99_ms.")
    var json = false

    @Option(name: .long, help: "Shards per round.")
    var shards = 240

    @Option(name: .long, help: "Rounds to take the median over.")
    var rounds = 3

    func run() async throws {
        try await reportingErrorsAsync {
            var bench = TransportBenchmark()
            bench.shards = max(16, shards)
            bench.rounds = max(1, rounds)
            let result: TransportBenchmark.Result
            if let host {
                result = try await runAgainstPairedHost(host, bench: bench)
            } else {
                result = try await bench.runAgainstLocalHost()
            }
            if json {
                try printJSON(result)
            } else {
                print("transport to \(result.host), \(ByteCount(result.shard_bytes)) shards, \(result.in_flight) in flight")
                print(String(format: "  PUT (fsynced)  %8.0f MB/s", result.put_mbps))
                print(String(format: "  GET            %8.0f MB/s", result.get_mbps))
                print(String(format: "  small GET      p50 %.3f ms, p99 %.3f ms", result.get_small_p50_ms, result.get_small_p99_ms))
            }
        }
    }

    private func runAgainstPairedHost(_ text: String, bench: TransportBenchmark) async throws -> TransportBenchmark.Result {
        guard let address = HostAddress(parsing: text) else { throw InputError("--host '\(text)' is not HOST:PORT") }
        let session = try unlock.openSession()
        guard let endpoint = try session.endpoints().first(where: { $0.endpoint.address == address })?.endpoint else {
            await session.close()
            throw InputError("\(address) is not a paired host of this vault: see 'vishwa host list'")
        }
        do {
            let connection = try await session.pool.connection(to: endpoint)
            let result = try await bench.run(on: connection)
            await session.close()
            return result
        } catch {
            await session.close()
            throw error
        }
    }
}

struct StoreBenchOptions: ParsableArguments {
    @Option(name: .long, help: "File size, e.g. 1G.")
    var size = "1G"

    @Option(name: .long, help: "Local hosts to start.")
    var hosts = 5

    @Flag(name: .long, help: "Print JSON.")
    var json = false
}

struct BenchUpload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upload",
        abstract: "Upload a random file (default 1 GiB) to 5 local vishwa-shard hosts: MB/s and peak RSS.")

    @OptionGroup var options: StoreBenchOptions

    func run() async throws {
        try await runStoreBenchmark(size: options.size, hosts: options.hosts, json: options.json, download: false)
    }
}

struct BenchDownload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Upload, then download and compare a random file (default 1 GiB) with 5 local hosts: MB/s and peak RSS of both.")

    @OptionGroup var options: StoreBenchOptions

    func run() async throws {
        try await runStoreBenchmark(size: options.size, hosts: options.hosts, json: options.json, download: true)
    }
}

func runStoreBenchmark(size: String, hosts: Int, json: Bool, download: Bool) async throws {
    try await reportingErrorsAsync {
        guard let bytes = ByteCount(parsing: size), bytes.bytes > 0 else { throw InputError("cannot read size '\(size)'") }
        guard hosts >= 2 else { throw InputError("--hosts must be at least 2") }
        var bench = StoreBenchmark()
        bench.size = bytes.bytes
        bench.hosts = hosts
        let r = try await bench.run(download: download)
        if json { try printJSON(r); return }
        print("store, \(ByteCount(r.size_bytes)) file, \(r.hosts) local hosts, 6+4")
        print(String(format: "  upload    %7.1f MB/s, peak RSS %.0f MiB", r.upload_mbps, r.upload_peak_rss_mib ?? -1))
        if let d = r.download_mbps {
            print(String(format: "  download  %7.1f MB/s, peak RSS %.0f MiB", d, r.download_peak_rss_mib ?? -1))
        }
    }
}
