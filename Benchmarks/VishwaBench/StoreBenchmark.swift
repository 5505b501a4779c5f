import Foundation
import Logging
import VishwaCatalog
import VishwaClient
import VishwaCore
import VishwaCrypto
import VishwaTransport
import VishwaVault

#if canImport(Glibc)
import Glibc
#endif

/// `vishwa bench upload` / `download`: a file through the whole store (codec, placement, Noise,
/// hosts' fsync) with local `vishwa-shard` hosts, measuring throughput and this process's peak RSS.
public struct StoreBenchmark: Sendable {
    public var hosts = 5
    public var size = 1 << 30

    public init() {}

    public struct Result: Sendable, Codable {
        public var upload_mbps: Double
        public var upload_peak_rss_mib: Double?
        public var download_mbps: Double?
        public var download_peak_rss_mib: Double?
        public var size_bytes: Int
        public var hosts: Int
    }

    public func run(download: Bool) async throws -> Result {
        let scratch = NSTemporaryDirectory() + "vishwa-bench-store-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        var started: [LocalHost] = []
        defer {
            started.forEach { $0.stop() }
            try? FileManager.default.removeItem(atPath: scratch)
        }
        for _ in 0..<hosts { started.append(try LocalHost(binary: LocalHost.siblingBinary())) }
        let home = VaultHome(path: scratch + "/home")
        try Vault.create(in: home, protection: .none)
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let session = try VaultSession(home: home, passphrase: nil, logger: logger)
        do {
            for host in started { _ = try await Pairing.pair(try PairingCode(parsing: try host.invite()), name: nil, session: session) }
            let local = scratch + "/input"
            try Self.writeRandomFile(local, size: size)

            var upload: UploadResult?
            let uploadPeak = try await Measure.peakResident {
                upload = try await Uploader(session: session).upload(local, folder: "/bench")
            }
            guard let upload else { throw BenchError("upload produced no result") }
            var result = Result(upload_mbps: Double(size) / upload.elapsedSeconds / 1e6,
                                upload_peak_rss_mib: uploadPeak.map { Double($0) / 1048576 }, download_mbps: nil,
                                download_peak_rss_mib: nil, size_bytes: size, hosts: hosts)
            if download {
                let out = scratch + "/output"
                let start = Measure.now()
                let downloadPeak = try await Measure.peakResident {
                    _ = try await Reader(session: session).download(node: upload.node, to: out)
                }
                result.download_mbps = Double(size) / (Double(Measure.now() - start) / 1e9) / 1e6
                result.download_peak_rss_mib = downloadPeak.map { Double($0) / 1048576 }
                guard FileManager.default.contentsEqual(atPath: local, andPath: out) else {
                    throw BenchError("downloaded bytes differ from the uploaded file")
                }
            }
            await session.close()
            return result
        } catch {
            await session.close()
            throw error
        }
    }

    static func writeRandomFile(_ path: String, size: Int) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else { throw BenchError("cannot create \(path)") }
        // One random block, made unique per piece by a counter in its first bytes: as
        // incompressible as fully random data, without waiting on the kernel's RNG for a gigabyte.
        var block = Random.bytes(4 << 20)
        var left = size
        var counter: UInt64 = 0
        while left > 0 {
            let piece = min(left, block.count)
            withUnsafeBytes(of: counter) { for i in 0..<8 { block[i] ^= $0[i] } }
            counter &+= 0x9E37_79B9_7F4A_7C15
            handle.write(Data(block[0..<piece]))
            left -= piece
        }
        try handle.close()
    }
}

extension Measure {
    /// This process's peak resident set (bytes) while `body` ran, from VmHWM after resetting it.
    public static func peakResident(_ body: () async throws -> Void) async throws -> Int? {
        let reset = resetPeakResident()
        try await body()
        return reset ? statusField("VmHWM") : nil
    }
}
