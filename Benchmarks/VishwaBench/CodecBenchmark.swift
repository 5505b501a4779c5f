import CISAL
import CSodium
import VishwaCodec
import VishwaCore
import VishwaCrypto

/// `vishwa bench codec`: our shard codec against the same libsodium and ISA-L calls made directly
/// on prepared buffers, 4 MiB chunks, one core. The difference is what the Swift layer costs:
/// laying the chunk out, headers, bookkeeping and allocation.
public struct CodecBenchmark: Sendable {
    public var parameters: CodingParameters
    public var rounds: Int
    public var iterationsPerRound: Int

    public init(parameters: CodingParameters = .default, rounds: Int = 9, iterationsPerRound: Int = 12) {
        self.parameters = parameters
        self.rounds = rounds
        self.iterationsPerRound = iterationsPerRound
    }

    /// Rates in MB/s of plaintext (10^6 bytes per second), medians over the rounds.
    public struct Result: Sendable, Codable {
        public var encode_mbps: Double
        public var decode_mbps: Double
        public var decode_degraded_mbps: Double
        public var raw_encode_mbps: Double
        public var raw_decode_mbps: Double
        public var raw_decode_degraded_mbps: Double
        /// Peak resident growth while encoding one chunk, and what the n shards themselves take.
        public var encode_peak_alloc_bytes: Int?
        public var encode_shard_bytes: Int
        /// Peak resident growth while decoding one chunk with m data shards lost.
        public var decode_degraded_peak_alloc_bytes: Int?
        public var chunk_bytes: Int
        public var k: Int
        public var m: Int

        public var encodeRatio: Double { encode_mbps / raw_encode_mbps }
        public var decodeRatio: Double { decode_mbps / raw_decode_mbps }
        public var degradedRatio: Double { decode_degraded_mbps / raw_decode_degraded_mbps }
    }

    public func run() throws -> Result {
        let chunkLength = parameters.chunkSize
        let (k, m) = (parameters.k, parameters.m)
        let codec = ShardCodec(parameters: parameters)
        let key = SecretBytes.random(count: 32)
        let chunk = Random.bytes(chunkLength)
        let context = ShardContext(vaultID: VaultID(high: 1, low: 2), fileID: FileID(high: 3, low: 4), version: 1,
                                   chunkIndex: 0, chunkLength: chunkLength)
        let raw = RawPrimitives(parameters: parameters, chunk: chunk, key: key)

        // Warm up on a small chunk so code pages and lazily set-up state are resident before the
        // measurement; then measure while the heap is fresh: a hidden copy of the chunk would show.
        // 64 KiB: shards large enough for the AEAD's bulk path (OpenSSL, set up on first use).
        let small = ShardContext(vaultID: context.vaultID, fileID: context.fileID, version: 1, chunkIndex: 0, chunkLength: 65536)
        if let warm = try? codec.encode(Array(chunk.prefix(65536)), context: small, key: key) {
            _ = try? codec.decode(Array(warm.shards.suffix(parameters.k)), context: small, key: key)
        }
        var encoded: EncodedChunk?
        let encodeAlloc = chunk.withUnsafeBytes { bytes in
            Measure.peakResidentGrowth { encoded = try? codec.encode(bytes, context: context, key: key) }
        }
        guard let shards = encoded?.shards else { throw CodecError.chunkTooLarge(length: chunkLength, chunkSize: 0) }
        let survivors = Array(shards[min(m, k)...])  // the first m shards (data shards) lost
        let degradedAlloc = Measure.peakResidentGrowth { _ = try? codec.decode(survivors, context: context, key: key) }
        let check = try codec.decode(survivors, context: context, key: key)
        precondition(check.plaintext == chunk, "degraded decode returned other bytes")

        var rates: [String: [Double]] = [:]
        func record(_ name: String, _ body: () -> Void) {
            rates[name, default: []].append(
                Measure.rate(iterations: iterationsPerRound, bytesPerIteration: chunkLength, body))
        }
        for _ in 0..<rounds {
            chunk.withUnsafeBytes { bytes in
                record("encode") { _ = try? codec.encode(bytes, context: context, key: key) }
            }
            record("raw_encode") { raw.encode() }
            record("decode") { _ = try? codec.decode(shards, context: context, key: key) }
            record("raw_decode") { raw.decode() }
            record("decode_degraded") { _ = try? codec.decode(survivors, context: context, key: key) }
            record("raw_decode_degraded") { raw.decodeDegraded() }
        }
        let median = { (name: String) in Measure.median(rates[name] ?? []) }
        return Result(
            encode_mbps: median("encode"), decode_mbps: median("decode"),
            decode_degraded_mbps: median("decode_degraded"),
            raw_encode_mbps: median("raw_encode"), raw_decode_mbps: median("raw_decode"),
            raw_decode_degraded_mbps: median("raw_decode_degraded"),
            encode_peak_alloc_bytes: encodeAlloc, encode_shard_bytes: shards.count * (shards.first?.count ?? 0),
            decode_degraded_peak_alloc_bytes: degradedAlloc,
            chunk_bytes: chunkLength, k: k, m: m)
    }
}

/// The bare primitives on buffers prepared once: what encoding and decoding cost with no codec around them.
final class RawPrimitives {
    let k: Int, m: Int, piece: Int
    /// n pieces (k data + m parity), then their n tags, each piece in its own aligned buffer.
    let pieces: [UnsafeMutablePointer<UInt8>]
    let tags: UnsafeMutablePointer<UInt8>
    let nonces: UnsafeMutablePointer<UInt8>
    let output: UnsafeMutablePointer<UInt8>
    let scratch: UnsafeMutablePointer<UInt8>
    let encodeTables: UnsafeMutablePointer<UInt8>
    let generator: UnsafeMutablePointer<UInt8>
    let key: [UInt8]
    let ad = [UInt8](repeating: 7, count: 60)

    init(parameters: CodingParameters, chunk: [UInt8], key: SecretBytes) {
        let (k, m) = (parameters.k, parameters.m)
        let piece = parameters.pieceLength(forChunkLength: chunk.count)
        self.k = k
        self.m = m
        self.piece = piece
        let n = k + m
        let pieces: [UnsafeMutablePointer<UInt8>] = (0..<n).map { _ in
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: piece)
            p.initialize(repeating: 0, count: piece)
            return p
        }
        self.pieces = pieces
        for i in 0..<k {
            let start = i * piece
            let count = max(0, min(piece, chunk.count - start))
            chunk.withUnsafeBufferPointer { c in pieces[i].update(from: c.baseAddress! + start, count: count) }
        }
        tags = .allocate(capacity: 16 * n)
        nonces = .allocate(capacity: 24 * n)
        output = .allocate(capacity: k * piece)
        scratch = .allocate(capacity: max(m, 1) * piece)
        let generator = UnsafeMutablePointer<UInt8>.allocate(capacity: n * k)
        gf_gen_cauchy1_matrix(generator, Int32(n), Int32(k))
        self.generator = generator
        let encodeTables = UnsafeMutablePointer<UInt8>.allocate(capacity: max(32 * k * m, 1))
        if m > 0 { ec_init_tables(Int32(k), Int32(m), generator + k * k, encodeTables) }
        self.encodeTables = encodeTables
        self.key = key.exposedCopy()
        // Encrypt once so decode has authentic ciphertext to open.
        encode()
    }

    deinit {
        pieces.forEach { $0.deallocate() }
        [tags, nonces, output, scratch, encodeTables, generator].forEach { $0.deallocate() }
    }

    /// ec_encode_data for the parity, then a nonce and an in-place AEAD seal per piece.
    func encode() {
        var data: [UnsafeMutablePointer<UInt8>?] = Array(pieces[0..<k])
        var parity: [UnsafeMutablePointer<UInt8>?] = Array(pieces[k...])
        if m > 0 { ec_encode_data(Int32(piece), Int32(k), Int32(m), encodeTables, &data, &parity) }
        for i in 0..<(k + m) {
            randombytes_buf(nonces + 24 * i, 24)
            crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
                pieces[i], tags + 16 * i, nil, pieces[i], UInt64(piece), ad, UInt64(ad.count), nil, nonces + 24 * i, key)
        }
    }

    /// Opens the k data pieces into the output.
    func decode() {
        for i in 0..<k { open(i, into: output + i * piece) }
    }

    /// Opens the last k pieces (the first m lost), inverts the submatrix, and rebuilds the lost ones.
    func decodeDegraded() {
        let lost = min(m, k)
        let sources = Array(lost..<(k + m)).prefix(k)
        var parityUsed = 0
        var sourcePointers: [UnsafeMutablePointer<UInt8>?] = []
        for i in sources {
            let destination = i < k ? output + i * piece : scratch + (parityUsed * piece)
            if i >= k { parityUsed += 1 }
            open(i, into: destination)
            sourcePointers.append(destination)
        }
        var b = [UInt8](repeating: 0, count: k * k)
        var inverse = [UInt8](repeating: 0, count: k * k)
        for (r, row) in sources.enumerated() { for c in 0..<k { b[r * k + c] = generator[row * k + c] } }
        _ = gf_invert_matrix(&b, &inverse, Int32(k))
        let decodeRows = Array(inverse[0..<(lost * k)])  // rows of the lost data pieces 0..<lost
        var tables = [UInt8](repeating: 0, count: 32 * k * max(lost, 1))
        var rows = decodeRows
        ec_init_tables(Int32(k), Int32(lost), &rows, &tables)
        var targets: [UnsafeMutablePointer<UInt8>?] = (0..<lost).map { output + $0 * piece }
        ec_encode_data(Int32(piece), Int32(k), Int32(lost), &tables, &sourcePointers, &targets)
    }

    private func open(_ i: Int, into destination: UnsafeMutablePointer<UInt8>) {
        let status = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
            destination, nil, pieces[i], UInt64(piece), tags + 16 * i, ad, UInt64(ad.count), nonces + 24 * i, key)
        precondition(status == 0, "raw benchmark: piece \(i) did not authenticate")
    }
}
