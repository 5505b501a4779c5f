import CLibFuzzer
import FuzzSupport
import VishwaCodec
import VishwaCore
import VishwaCrypto

/// Shards as a host returns them (docs/format.md §2), through `ShardHeader(parsing:)`, `decode`,
/// and both `decodeRange`s, as a client reads a chunk from hosts that may lie.
///
/// The input is a script. Its first bytes choose the coding parameters, the chunk length and
/// whether the chunk has a seal id (format 3, as file chunks) or not (format 2, as catalog backup
/// chunks); the target encodes a chunk of that length with a fixed key and fixed nonces (so a
/// crash input replays the same way), then the script drops, truncates, bit-flips, duplicates and swaps the
/// headers of shards, and adds shards of raw input bytes. Then:
///
/// - every shard's header parses; an unmodified shard's header says exactly where it belongs;
/// - `decode` succeeds exactly when k distinct unmodified shards are present, with the chunk's
///   bytes (every byte of a shard is authenticated: a modified shard is an erasure), and never
///   under another seal id (or none for a chunk that has one, or one for a chunk that has none);
/// - `decodeRange(from:)`, given whole shards or the parts `fetchPlan` names, succeeds when every
///   covering data shard is present unmodified, and whatever it returns is the chunk's bytes;
/// - `decodeRange(rebuildingFrom:)`, given the parts `degradedPlan` names, succeeds when k
///   distinct shards are unmodified, and whatever it returns is the chunk's bytes.
///
/// Allocation: chunks are at most `maxChunk` bytes here, so anything near libFuzzer's malloc limit
/// is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzShardCodec(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = InputReader(Array(UnsafeBufferPointer(start: data, count: size)))
    let k = 1 + Int(input.byte() % 8)
    let m = Int(input.byte() % 5)
    // Most chunks small (fast runs); with the top bit set, up to `maxChunk` (several segments).
    let lengthBits = input.int(bytes: 3)
    let chunkLength = lengthBits & 0x80_0000 != 0 ? (lengthBits & 0x7F_FFFF) % (maxChunk + 1) : lengthBits % 4097
    let indexByte = input.byte()
    let chunkIndex = UInt64(indexByte & 0x7F)
    let sealID = indexByte & 0x80 != 0 ? seal : nil
    guard let parameters = try? CodingParameters(k: k, m: m, chunkSize: maxChunk) else {
        Oracle.require(false, "parameters \(k)+\(m) refused")
        return 0
    }
    let codec = ShardCodec(parameters: parameters)
    let context = ShardContext(vaultID: vaultID, fileID: fileID, version: 7, chunkIndex: chunkIndex, chunkLength: chunkLength,
                               sealID: sealID)
    let plaintext = (0..<chunkLength).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }

    let encoded: EncodedChunk
    do {
        encoded = try plaintext.withUnsafeBytes { try codec.encode($0, context: context, key: key, nonces: fixedNonces) }
    } catch {
        Oracle.require(false, "encoding \(chunkLength) bytes failed: \(error)")
        return 0
    }
    let originals = encoded.shards.map(Array.init)
    var shards = originals
    mutate(&shards, script: &input)

    // Which original each shard still is, byte for byte.
    let intact: [Int?] = shards.map { shard in originals.firstIndex(of: shard) }
    let intactIndices = Set(intact.compactMap { $0 })

    for (position, shard) in shards.enumerated() {
        let header = shard.withUnsafeBytes { ShardHeader(parsing: $0) }
        if let original = intact[position] {
            Oracle.require(header.map { isHeader($0, of: context, parameters: parameters, index: original) } ?? false,
                           "shard \(original) as encoded has header \(String(describing: header))")
        }
        Oracle.require(header == nil || shard.count >= ShardFormat.headerLength, "header parsed from \(shard.count) bytes")
        Oracle.require(ShardCodec.claimedIndex(of: shard) == header?.index, "claimedIndex disagrees with the header")
        if let original = intact[position] {
            Oracle.require(codec.verify(shard, context: context, key: key) == .success(original), "shard \(original) does not verify")
        }
    }

    checkDecode(codec, shards: shards, context: context, plaintext: plaintext, authentic: intactIndices.count)
    for other in [nil, seal, otherSeal] where other != sealID {
        var wrong = context
        wrong.sealID = other
        Oracle.require((try? codec.decode(shards, context: wrong, key: key)) == nil,
                       "shards sealed with seal id \(String(describing: sealID)) decoded under \(String(describing: other))")
    }

    let offset = chunkLength == 0 ? 0 : input.int(bytes: 3) % (chunkLength + 1)
    let length = input.int(bytes: 3) % (chunkLength - offset + 1)
    let covering = codec.dataShards(coveringOffset: offset, length: length, chunkLength: chunkLength)
    let coveringPresent = covering.allSatisfy(intactIndices.contains)
    let expected = Array(plaintext[offset..<offset + length])

    let whole = shards.map { ShardPart(whole: $0) }
    checkRange(codec.decodeRange(offset:length:from:context:key:), offset, length, whole, context,
               mustSucceed: coveringPresent, expected: expected, what: "decodeRange of whole shards")
    let plan = Dictionary(codec.fetchPlan(offset: offset, length: length, chunkLength: chunkLength).map { ($0.index, $0.bytes) },
                          uniquingKeysWith: { a, _ in a })
    let fetched = shards.map { shard in part(of: shard, bytes: ShardCodec.claimedIndex(of: shard).flatMap { plan[$0] }) }
    checkRange(codec.decodeRange(offset:length:from:context:key:), offset, length, fetched, context,
               mustSucceed: coveringPresent, expected: expected, what: "decodeRange of fetched parts")
    let degraded = codec.degradedPlan(offset: offset, length: length, chunkLength: chunkLength).bytes
    let rebuilding = shards.map { part(of: $0, bytes: degraded) }
    checkRange(codec.decodeRange(offset:length:rebuildingFrom:context:key:), offset, length, rebuilding, context,
               mustSucceed: intactIndices.count >= k, expected: expected, what: "decodeRange rebuilding")

    // Out-of-bounds ranges are refused, never read.
    Oracle.require((try? codec.decodeRange(offset: offset, length: chunkLength - offset + 1, from: whole,
                                           context: context, key: key)) == nil, "range past the chunk's end accepted")
    return 0
}

private let maxChunk = 200_000
private let key = SecretBytes(copying: (0..<32).map { UInt8($0) &* 7 &+ 1 })
private let vaultID = VaultID(high: 0x0102_0304_0506_0708, low: 0x1112_1314_1516_1718)
private let fileID = FileID(high: 0x2122_2324_2526_2728, low: 0x3132_3334_3536_3738)
private let seal = SealID(high: 0x4142_4344_4546_4748, low: 0x5152_5354_5556_5758)
private let otherSeal = SealID(high: 0x4142_4344_4546_4748, low: 0x5152_5354_5556_5759)

/// Nonces that repeat from run to run, so a saved input replays exactly. (Never do this outside a test.)
private func fixedNonces(_ nonce: UnsafeMutableRawBufferPointer) {
    for i in nonce.indices { nonce[i] = UInt8(truncatingIfNeeded: i &* 13 &+ 5) }
}

private func isHeader(_ header: ShardHeader, of context: ShardContext, parameters: CodingParameters, index: Int) -> Bool {
    header.k == parameters.k && header.m == parameters.m && header.index == index
        && header.chunkLength == context.chunkLength && header.vaultID == context.vaultID
        && header.fileID == context.fileID && header.version == context.version && header.chunkIndex == context.chunkIndex
        && header.formatVersion == (context.sealID == nil ? 2 : ShardFormat.version)
}

private func checkDecode(_ codec: ShardCodec, shards: [[UInt8]], context: ShardContext, plaintext: [UInt8], authentic: Int) {
    let k = codec.parameters.k
    do {
        let decoded = try codec.decode(shards, context: context, key: key)
        Oracle.require(authentic >= k, "decode succeeded with \(authentic) of \(k) shards unmodified")
        Oracle.require(decoded.plaintext == plaintext, "decode returned other bytes")
    } catch {
        Oracle.require(authentic < k, "decode failed with \(authentic) of \(k) shards unmodified: \(error)")
        guard case .notEnoughShards = error else {
            Oracle.require(false, "decode failed with \(error)")
            return
        }
    }
}

private typealias RangeDecoder = (Int, Int, [ShardPart<[UInt8]>], ShardContext, SecretBytes) throws(CodecError) -> [UInt8]

private func checkRange(_ decode: RangeDecoder, _ offset: Int, _ length: Int, _ parts: [ShardPart<[UInt8]>], _ context: ShardContext,
                        mustSucceed: Bool, expected: [UInt8], what: String) {
    do {
        let bytes = try decode(offset, length, parts, context, key)
        Oracle.require(bytes == expected, "\(what) of \(offset)+\(length) returned other bytes")
    } catch {
        Oracle.require(!mustSucceed, "\(what) of \(offset)+\(length) failed: \(error)")
    }
}

/// A shard's header and the bytes `bytes` of it (as much of them as it has), as a range read fetches them.
private func part(of shard: [UInt8], bytes: Range<Int>?) -> ShardPart<[UInt8]> {
    let header = Array(shard.prefix(ShardFormat.headerLength))
    guard let bytes else { return ShardPart(header: header, body: [], offset: ShardFormat.headerLength) }
    let lower = min(bytes.lowerBound, shard.count), upper = min(max(bytes.upperBound, lower), shard.count)
    return ShardPart(header: header, body: Array(shard[lower..<upper]), offset: lower)
}

/// Applies the script's operations to the shards, until the script says stop (a zero byte) or ends.
private func mutate(_ shards: inout [[UInt8]], script: inout InputReader) {
    var steps = 0
    while !script.isEmpty, steps < 32 {
        steps += 1
        let op = script.byte()
        if op == 0 { return }
        guard !shards.isEmpty else {
            shards.append(script.bytes(script.int(bytes: 2)))
            continue
        }
        let j = Int(script.byte()) % shards.count
        switch op % 6 {
        case 1: shards.remove(at: j)
        case 2:
            guard !shards[j].isEmpty else { continue }
            let at = script.int(bytes: 3) % shards[j].count
            shards[j][at] ^= 1 << (script.byte() % 8)
        case 3: shards[j].removeLast(shards[j].count - script.int(bytes: 3) % (shards[j].count + 1))
        case 4: shards.append(shards[j])
        case 5:
            let i = Int(script.byte()) % shards.count
            let n = min(ShardFormat.headerLength, shards[i].count, shards[j].count)
            shards[j].replaceSubrange(0..<n, with: shards[i][0..<n])
        default: shards.append(script.bytes(script.int(bytes: 2)))
        }
    }
}

/// The program's main(): SwiftPM links `main` to `<Module>_main` (CLibFuzzer/shim.h).
@_cdecl("FuzzShardCodec_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzShardCodec)
}
