import VishwaCore
import VishwaCrypto
import VishwaErasure

/// A decoded chunk and the shards that were set aside on the way (for repair and fsck).
public struct DecodedChunk: Sendable {
    public let plaintext: [UInt8]
    public let rejected: [ShardRejection]
}

extension ShardCodec {
    /// Rebuilds a chunk from any k authentic shards among `shards`, in any order.
    ///
    /// Shards that are malformed, belong elsewhere, fail authentication or repeat an index are
    /// treated as missing. Data shards are tried first (no decoding needed when all k are good);
    /// decryption stops as soon as k shards have authenticated.
    /// Throws `.notEnoughShards` when fewer than k authenticate.
    public func decode(_ shards: [some ShardBytes], context: ShardContext, key: SecretBytes) throws(CodecError) -> DecodedChunk {
        let k = parameters.k
        let piece = parameters.pieceLength(forChunkLength: context.chunkLength)
        // Data shards first, then parity, each in index order; unreadable headers go last.
        let order = shards.indices.sorted { a, b in
            let ia = Self.claimedIndex(of: shards[a]) ?? Int.max
            let ib = Self.claimedIndex(of: shards[b]) ?? Int.max
            return (ia, a) < (ib, b)
        }

        var rejected: [ShardRejection] = []
        var failure: CodecError?
        let plaintext = [UInt8](unsafeUninitializedCapacity: max(k * piece, 1)) { buffer, initialized in
            FreshMemory.prepare(UnsafeMutableRawBufferPointer(buffer))
            let out = UnsafeMutableRawPointer(buffer.baseAddress!)
            // Authentic parity pieces are decrypted here; data pieces go straight to their place in `out`.
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(parameters.m * piece, 1), alignment: 64)
            defer { scratch.deallocate() }
            var authentic: [(index: Int, bytes: UnsafeRawPointer)] = []
            var accepted = Set<Int>()
            var parityUsed = 0

            for position in order where authentic.count < k {
                let claimed = Self.claimedIndex(of: shards[position])
                if let claimed, accepted.contains(claimed) {
                    rejected.append(ShardRejection(index: claimed, position: position, reason: .duplicate))
                    continue
                }
                let isData = claimed.map { $0 < k } ?? false
                let destination = isData ? out + claimed! * piece : scratch + parityUsed * piece
                let result = shards[position].withUnsafeBytes { open($0, into: destination, context: context, key: key) }
                switch result {
                case .success(let index):
                    accepted.insert(index)
                    authentic.append((index, UnsafeRawPointer(destination)))
                    if !isData { parityUsed += 1 }
                case .failure(let reason):
                    rejected.append(ShardRejection(index: claimed, position: position, reason: reason))
                }
            }
            guard authentic.count == k else {
                failure = .notEnoughShards(authentic: authentic.count, needed: k, rejected: rejected)
                return
            }
            let missing = (0..<k).filter { !accepted.contains($0) }
            if !missing.isEmpty {
                do {
                    try code.reconstruct(length: piece, sources: authentic, targets: missing.map { ($0, out + $0 * piece) })
                } catch {
                    failure = .notEnoughShards(authentic: authentic.count, needed: k, rejected: rejected)
                    return
                }
            }
            initialized = context.chunkLength
        }
        if let failure { throw failure }
        return DecodedChunk(plaintext: plaintext, rejected: rejected)
    }

    /// The data shard indices that hold bytes `offset..<offset+length` of a chunk of `chunkLength` bytes.
    public func dataShards(coveringOffset offset: Int, length: Int, chunkLength: Int) -> Range<Int> {
        let piece = parameters.pieceLength(forChunkLength: chunkLength)
        guard length > 0, piece > 0 else { return 0..<0 }
        return (offset / piece)..<((offset + length - 1) / piece + 1)
    }

    /// Each data piece that holds bytes of `offset..<offset+length`, with the bytes of it they are
    /// (piece offsets) and where they go in the range read.
    func coveredPieces(offset: Int, length: Int, chunkLength: Int) -> [(index: Int, bytes: Range<Int>, at: Int)] {
        let piece = parameters.pieceLength(forChunkLength: chunkLength)
        return dataShards(coveringOffset: offset, length: length, chunkLength: chunkLength).map { index in
            let from = max(offset, index * piece), to = min(offset + length, (index + 1) * piece)
            return (index, (from - index * piece)..<(to - index * piece), from - offset)
        }
    }

    /// For a read of bytes `offset..<offset+length` of a chunk: each covering data shard and the
    /// bytes of it to fetch (its header, `0..<ShardFormat.headerLength`, is needed too: it holds
    /// the nonce). Segmented shards (formats 2 and 3); a format 1 shard found there is fetched whole.
    public func fetchPlan(offset: Int, length: Int, chunkLength: Int) -> [(index: Int, bytes: Range<Int>)] {
        let layout = SegmentLayout(piece: parameters.pieceLength(forChunkLength: chunkLength), version: ShardFormat.version)
        return coveredPieces(offset: offset, length: length, chunkLength: chunkLength).map { ($0.index, layout.shardBytes(covering: $0.bytes)) }
    }

    /// Decodes bytes `offset..<offset+length` of a chunk from just the data shards that cover them
    /// (`dataShards(coveringOffset:length:chunkLength:)`), each whole or as the part `fetchPlan`
    /// names; other shards in `parts` are ignored.
    /// Throws `.dataShardUnavailable` when a covering shard is absent or fails authentication;
    /// the caller then falls back to `decode` with any k shards.
    public func decodeRange<Bytes: ShardBytes>(
        offset: Int, length: Int, from parts: [ShardPart<Bytes>], context: ShardContext, key: SecretBytes
    ) throws(CodecError) -> [UInt8] {
        var failure: CodecError?
        let result = [UInt8](unsafeUninitializedCapacity: max(length, 0)) { out, initialized in
            do throws(CodecError) {
                try decodeRange(offset: offset, length: length, from: parts, context: context, key: key,
                                into: UnsafeMutableRawBufferPointer(out))
                initialized = length
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return result
    }

    /// `decodeRange(offset:length:from:context:key:)` into `output` (at least `length` bytes), so
    /// a reader can put the bytes of several shards, or of several chunks, where they belong in
    /// one buffer instead of copying each into place.
    public func decodeRange<Bytes: ShardBytes>(
        offset: Int, length: Int, from parts: [ShardPart<Bytes>], context: ShardContext, key: SecretBytes,
        into output: UnsafeMutableRawBufferPointer
    ) throws(CodecError) {
        guard offset >= 0, length >= 0, offset + length <= context.chunkLength else {
            throw .rangeOutOfBounds(offset: offset, length: length, chunkLength: context.chunkLength)
        }
        precondition(output.count >= length, "decodeRange: output smaller than the range")
        let needed = dataShards(coveringOffset: offset, length: length, chunkLength: context.chunkLength)
        var byIndex: [Int: [Int]] = [:]
        for position in parts.indices {
            if let index = Self.claimedIndex(of: parts[position].header), needed.contains(index) {
                byIndex[index, default: []].append(position)
            }
        }
        var scratch = SegmentScratch()
        defer { scratch.free() }
        for (index, bytes, at) in coveredPieces(offset: offset, length: length, chunkLength: context.chunkLength) {
            var lastReason: ShardRejection.Reason?
            var opened = false
            for position in byIndex[index] ?? [] where !opened {
                switch openExactly(parts[position], piece: bytes, into: output.baseAddress! + at, scratch: &scratch,
                                   context: context, key: key) {
                case .success(let claimed) where claimed == index: opened = true
                case .success: lastReason = .wrongContext
                case .failure(let reason): lastReason = reason
                }
            }
            guard opened else { throw .dataShardUnavailable(index: index, reason: lastReason) }
        }
    }

    /// Decrypts exactly piece bytes `range` of one shard part into `output`: runs of whole
    /// segments straight into place, a segment wanted only in part (at either end) through
    /// `scratch`. Returns the index the shard claims.
    private func openExactly<Bytes: ShardBytes>(
        _ part: ShardPart<Bytes>, piece range: Range<Int>, into output: UnsafeMutableRawPointer,
        scratch: inout SegmentScratch, context: ShardContext, key: SecretBytes
    ) -> Result<Int, ShardRejection.Reason> {
        guard let version = part.header.withUnsafeBytes({ ShardHeader(parsing: $0)?.formatVersion }) else {
            return .failure(.malformed)
        }
        let layout = SegmentLayout(piece: parameters.pieceLength(forChunkLength: context.chunkLength), version: version)
        let segments = layout.segments(covering: range)
        var index = -1
        var s = segments.lowerBound
        while s < segments.upperBound {
            let plain = layout.plaintext(s)
            let whole = plain.lowerBound >= range.lowerBound && plain.upperBound <= range.upperBound
            var end = s + 1
            while whole && end < segments.upperBound && layout.plaintext(end).upperBound <= range.upperBound { end += 1 }
            let span = plain.lowerBound..<layout.plaintext(end - 1).upperBound
            let target = whole ? output + (span.lowerBound - range.lowerBound) : scratch.pointer(count: span.count)
            switch part.open(self, piece: span, into: target, context: context, key: key) {
            case .success(let opened) where opened.start == span.lowerBound: index = opened.index
            case .success: return .failure(.malformed)
            case .failure(let reason): return .failure(reason)
            }
            if !whole {
                let wanted = span.clamped(to: range)
                (output + (wanted.lowerBound - range.lowerBound)).copyMemory(from: target + (wanted.lowerBound - span.lowerBound),
                                                                             byteCount: wanted.count)
            }
            s = end
        }
        return .success(index)
    }
}

/// Room for one segment's plaintext, allocated when first needed and grown if a segment is larger.
struct SegmentScratch {
    private var base: UnsafeMutableRawPointer?
    private var capacity = 0

    mutating func pointer(count: Int) -> UnsafeMutableRawPointer {
        if let base, capacity >= count { return base }
        base?.deallocate()
        capacity = max(count, 1)
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        return base!
    }

    func free() { base?.deallocate() }
}

extension ShardCodec {
    /// The segments to fetch from any k shards to rebuild bytes `offset..<offset+length` of a
    /// chunk when a covering data shard is missing: the same segments of every shard (the code
    /// works bytewise, so segments of any k shards rebuild those segments of the others).
    /// Returns the piece bytes they hold and the shard bytes to fetch besides the header.
    public func degradedPlan(offset: Int, length: Int, chunkLength: Int) -> (piece: Range<Int>, bytes: Range<Int>) {
        let layout = SegmentLayout(piece: parameters.pieceLength(forChunkLength: chunkLength), version: ShardFormat.version)
        var first = Int.max, last = 0
        for covered in coveredPieces(offset: offset, length: length, chunkLength: chunkLength) {
            let segments = layout.segments(covering: covered.bytes)
            first = min(first, segments.lowerBound)
            last = max(last, segments.upperBound)
        }
        guard first < last else { return (0..<0, layout.shardBytes(covering: 0..<0)) }
        let piece = layout.plaintext(first).lowerBound..<layout.plaintext(last - 1).upperBound
        return (piece, layout.shardBytes(covering: piece))
    }

    /// Decodes bytes `offset..<offset+length` of a chunk from the segments `degradedPlan` names
    /// of any k shards among `parts` (data or parity, any order): the missing covering data
    /// segments are rebuilt, never the whole chunk. Parts that fail authentication, repeat an
    /// index or do not hold those segments are set aside. Throws `.notEnoughShards` when fewer
    /// than k authenticate.
    public func decodeRange<Bytes: ShardBytes>(
        offset: Int, length: Int, rebuildingFrom parts: [ShardPart<Bytes>], context: ShardContext, key: SecretBytes
    ) throws(CodecError) -> [UInt8] {
        guard offset >= 0, length >= 0, offset + length <= context.chunkLength else {
            throw .rangeOutOfBounds(offset: offset, length: length, chunkLength: context.chunkLength)
        }
        guard length > 0 else { return [] }
        let (k, n) = (parameters.k, parameters.n)
        let span = degradedPlan(offset: offset, length: length, chunkLength: context.chunkLength).piece
        let needed = dataShards(coveringOffset: offset, length: length, chunkLength: context.chunkLength)
        var rejected: [ShardRejection] = []
        var failure: CodecError?
        let result = [UInt8](unsafeUninitializedCapacity: length) { out, initialized in
            // Row i of the scratch holds shard i's plaintext for the span.
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(n * span.count, 1), alignment: 64)
            defer { scratch.deallocate() }
            var accepted: [Int] = []
            for position in parts.indices where accepted.count < k {
                // Only segmented shards of a known index: the row must hold exactly their segments.
                let header = parts[position].header.withUnsafeBytes { ShardHeader(parsing: $0) }
                guard let header, header.formatVersion != 1, (0..<n).contains(header.index) else {
                    rejected.append(ShardRejection(index: header?.index, position: position, reason: .malformed))
                    continue
                }
                let claimed = header.index
                if accepted.contains(claimed) {
                    rejected.append(ShardRejection(index: claimed, position: position, reason: .duplicate))
                    continue
                }
                switch parts[position].open(self, piece: span, into: scratch + claimed * span.count, context: context, key: key) {
                case .success(let at) where at.index == claimed && at.start == span.lowerBound: accepted.append(at.index)
                case .success: rejected.append(ShardRejection(index: claimed, position: position, reason: .malformed))
                case .failure(let reason): rejected.append(ShardRejection(index: claimed, position: position, reason: reason))
                }
            }
            guard accepted.count == k else {
                failure = .notEnoughShards(authentic: accepted.count, needed: k, rejected: rejected)
                return
            }
            let missing = needed.filter { !accepted.contains($0) }
            do {
                try code.reconstruct(length: span.count,
                                     sources: accepted.map { ($0, UnsafeRawPointer(scratch + $0 * span.count)) },
                                     targets: missing.map { ($0, scratch + $0 * span.count) })
            } catch {
                failure = .notEnoughShards(authentic: accepted.count, needed: k, rejected: rejected)
                return
            }
            for (index, bytes, at) in coveredPieces(offset: offset, length: length, chunkLength: context.chunkLength) {
                (UnsafeMutableRawPointer(out.baseAddress!) + at)
                    .copyMemory(from: scratch + index * span.count + (bytes.lowerBound - span.lowerBound), byteCount: bytes.count)
            }
            initialized = length
        }
        if let failure { throw failure }
        return result
    }
}

/// A shard, or the part of one a range read fetched: its header and its bytes from `offset` on.
public struct ShardPart<Bytes: ShardBytes> {
    /// At least the shard's first `ShardFormat.headerLength` bytes.
    public let header: Bytes
    public let body: Bytes
    /// Where `body` starts in the shard.
    public let offset: Int

    public init(header: Bytes, body: Bytes, offset: Int) {
        self.header = header
        self.body = body
        self.offset = offset
    }

    /// A whole shard.
    public init(whole shard: Bytes) {
        self.init(header: shard, body: shard, offset: 0)
    }

    /// Authenticates and decrypts the segments holding piece bytes `range` into `output`; returns
    /// the shard's index and the piece offset that `output` starts at.
    func open(
        _ codec: ShardCodec, piece range: Range<Int>, into output: UnsafeMutableRawPointer, context: ShardContext, key: SecretBytes
    ) -> Result<(index: Int, start: Int), ShardRejection.Reason> {
        header.withUnsafeBytes { header in
            guard let parsed = ShardHeader(parsing: header) else { return .failure(.malformed) }
            return body.withUnsafeBytes { body in
                codec.open(parsed, of: header, body: body, at: offset, piece: range, into: output, context: context, key: key)
            }
        }
    }
}

extension ShardPart: Sendable where Bytes: Sendable {}
