/// How a file of a given size is cut into chunks: every chunk is `chunkSize` bytes except the last,
/// which holds the remainder. An empty file has no chunks.
public struct ChunkLayout: Sendable, Hashable {
    public let fileSize: Int
    public let chunkSize: Int

    public init(fileSize: Int, chunkSize: Int) {
        precondition(fileSize >= 0 && chunkSize > 0)
        self.fileSize = fileSize
        self.chunkSize = chunkSize
    }

    public var chunkCount: Int { (fileSize + chunkSize - 1) / chunkSize }

    /// Byte range of chunk `index` within the file.
    public func range(ofChunk index: Int) -> Range<Int> {
        precondition(index >= 0 && index < chunkCount)
        let start = index * chunkSize
        return start..<min(start + chunkSize, fileSize)
    }

    /// All chunk ranges in order.
    public var chunks: [Range<Int>] { (0..<chunkCount).map(range(ofChunk:)) }

    /// Chunk indices holding bytes `offset..<offset+length` (clamped to the file).
    public func chunks(coveringOffset offset: Int, length: Int) -> Range<Int> {
        let end = min(offset + length, fileSize)
        guard offset < end else { return 0..<0 }
        return (offset / chunkSize)..<((end - 1) / chunkSize + 1)
    }
}
