/// Sequential-read detection for one open file (DESIGN §4): after reads that follow each other,
/// the next chunks are worth fetching before they are asked for, so a player never waits on the
/// network mid-stream; a seek resets the streak, so random access costs no wasted fetches.
///
/// A value type owned by its open-file handle (which serialises access).
public struct ReadAheadDetector: Sendable {
    public let chunkSize: Int
    /// Chunks to fetch ahead once reading is sequential.
    public let window: Int
    /// Consecutive sequential reads needed before read-ahead starts.
    public let threshold: Int

    private var nextOffset: Int?
    private var streak = 0

    public init(chunkSize: Int, window: Int = 2, threshold: Int = 2) {
        precondition(chunkSize > 0 && window >= 0 && threshold >= 1)
        self.chunkSize = chunkSize
        self.window = window
        self.threshold = threshold
    }

    /// Records a read of `length` bytes at `offset` in a file of `fileSize` bytes and returns the
    /// chunk indices to prefetch now (empty while reading is not sequential).
    public mutating func record(offset: Int, length: Int, fileSize: Int) -> Range<Int> {
        // Players re-read a little behind the last end; treat anything within one chunk ahead as a continuation.
        if let expected = nextOffset, offset >= expected - chunkSize, offset <= expected + chunkSize {
            streak += 1
        } else {
            streak = 0
        }
        nextOffset = offset + length
        guard streak >= threshold, window > 0, length > 0 else { return 0..<0 }
        let chunkCount = (fileSize + chunkSize - 1) / chunkSize
        let current = (offset + length - 1) / chunkSize
        let first = current + 1
        return first..<min(chunkCount, first + window)
    }
}
