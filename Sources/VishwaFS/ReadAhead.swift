import VishwaCore

/// How to serve one read, as `ReadAheadDetector` advises.
public struct ReadPlan: Sendable, Equatable {
    /// Fetch and cache whole chunks: the reader streams, it will want the rest of each.
    public var wholeChunks = false
    /// Bytes to fetch past the end of a range read: a short run of reads that follow each other
    /// (the kernel cuts one large read into 128 KiB requests) gets its next bytes in one fetch.
    public var extend = 0
    /// Chunks to fetch into the cache before they are asked for.
    public var prefetch: Range<Int> = 0..<0

    public init(wholeChunks: Bool = false, extend: Int = 0, prefetch: Range<Int> = 0..<0) {
        self.wholeChunks = wholeChunks
        self.extend = extend
        self.prefetch = prefetch
    }

    /// A lone read: only the bytes asked for.
    public static let exact = ReadPlan()
}

/// Sequential-read detection for one open file (docs/architecture.md §4), in three steps so that a seek costs
/// no more than it reads and a stream never waits on the network:
/// 1. a small read that does not follow the last one fetches only its own bytes (a random reader);
/// 2. a read that follows it fetches `span` bytes more in the same requests, so a player's next
///    reads after a seek are answered from memory; a large read (the kernel cuts a large read into
///    requests of at most `largeRead` bytes, and sends the next only when the first is answered)
///    is filled up to `span` bytes, but a lone read of a span or more fetches only its own bytes
///    (a reader of 1 MiB at random places waited for 2 MiB of shards each time);
/// 3. once `wholeAfter` bytes were read in a row, whole chunks are fetched and cached and the next
///    `window` chunks are fetched ahead.
///
/// A value type owned by its open-file handle (which serialises access).
public struct ReadAheadDetector: Sendable {
    public let chunkSize: Int
    /// Chunks to fetch ahead once reading streams.
    public let window: Int
    /// Bytes fetched past a read that follows the one before.
    public let span: Int
    /// A request this large is taken for the first of several.
    public let largeRead: Int
    /// Bytes read in a row after which reading counts as streaming: more than a player reads
    /// after a seek, so seeking never pays for whole chunks it does not read.
    public let wholeAfter: Int

    private var nextOffset: Int?
    /// Bytes read in a row so far, this read included.
    private var run = 0

    public init(chunkSize: Int, window: Int = 2, span: Int = 1 << 20, largeRead: Int = 128 << 10, wholeAfter: Int = 4 << 20) {
        precondition(chunkSize > 0 && window >= 0 && span >= 0 && largeRead > 0 && wholeAfter >= 0)
        // Bounds that keep every sum below in range, whatever offsets callers send.
        precondition(chunkSize <= 1 << 30 && window <= 1 << 20 && span <= 1 << 40 && wholeAfter <= 1 << 40)
        self.chunkSize = chunkSize
        self.window = window
        self.span = span
        self.largeRead = largeRead
        self.wholeAfter = wholeAfter
    }

    /// Records a read of `length` bytes at `offset` in a file of `fileSize` bytes and says how to
    /// serve it.
    public mutating func record(offset: Int, length: Int, fileSize: Int) -> ReadPlan {
        // Nothing lies past the largest file; offsets there (up to 2^63, from any local user)
        // must not reach the sums below.
        let limit = FileLimits.maxFileSize
        guard (0..<limit).contains(offset), length >= 0 else {
            nextOffset = nil
            run = 0
            return .exact
        }
        let length = min(length, limit - offset), fileSize = min(max(fileSize, 0), limit)
        // Players re-read a little behind the last end; treat anything within one chunk ahead as a continuation.
        let follows = nextOffset.map { offset >= $0 - chunkSize && offset <= $0 + chunkSize } ?? false
        // Only whether the run passed `wholeAfter` matters: capped there, it never grows past range.
        run = follows ? min(run, wholeAfter) + length : length
        nextOffset = offset + length
        guard follows || length >= largeRead, length > 0 else { return .exact }
        guard run > wholeAfter else { return ReadPlan(extend: follows ? span : max(0, span - length)) }
        let chunkCount = (fileSize + chunkSize - 1) / chunkSize
        let first = (offset + length - 1) / chunkSize + 1
        let last = min(chunkCount, first + window)
        return ReadPlan(wholeChunks: true, prefetch: first < last ? first..<last : 0..<0)
    }
}
