import TestSupport
import Testing
@testable import VishwaFS

private func key(_ index: Int, file: UInt8 = 1, version: UInt64 = 1) -> ChunkKey {
    ChunkKey(fileID: [file], version: version, index: index)
}

@Suite(.ownThreads) struct ChunkCacheTests {
    @Test func evictsTheLeastRecentlyUsedToStayWithinItsBudget() {
        let cache = ChunkCache(capacityBytes: 30)
        cache.put(key(0), [UInt8](repeating: 0, count: 10))
        cache.put(key(1), [UInt8](repeating: 1, count: 10))
        cache.put(key(2), [UInt8](repeating: 2, count: 10))
        #expect(cache.get(key(0)) != nil)  // 0 is now the most recent; 1 is the oldest
        cache.put(key(3), [UInt8](repeating: 3, count: 10))
        #expect(cache.get(key(1)) == nil)
        #expect(cache.get(key(0)) == [UInt8](repeating: 0, count: 10))
        #expect(cache.get(key(2)) != nil && cache.get(key(3)) != nil)
        #expect(cache.statistics.bytes == 30)
        #expect(cache.statistics.chunks == 3)
    }

    @Test func anotherVersionIsAnotherChunkAndInvalidationDropsAFile() {
        let cache = ChunkCache(capacityBytes: 100)
        cache.put(key(0, version: 1), [1])
        #expect(cache.get(key(0, version: 2)) == nil)
        cache.put(key(0, file: 2), [2])
        cache.invalidate(fileID: [1])
        #expect(cache.get(key(0, version: 1)) == nil)
        #expect(cache.get(key(0, file: 2)) == [2])
        #expect(cache.statistics.bytes == 1)
    }

    @Test func replacingAChunkKeepsTheAccountExactAndOversizedChunksAreNotCached() {
        let cache = ChunkCache(capacityBytes: 8)
        cache.put(key(0), [1, 2, 3])
        cache.put(key(0), [1, 2, 3, 4, 5])
        #expect(cache.statistics.bytes == 5)
        cache.put(key(1), [UInt8](repeating: 9, count: 9))
        #expect(cache.get(key(1)) == nil)
        #expect(cache.get(key(0)) == [1, 2, 3, 4, 5])
    }

    @Test func neverExceedsItsBudgetUnderConcurrentUse() async {
        let cache = ChunkCache(capacityBytes: 1000)
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for i in 0..<500 {
                        let k = key(i % 37, file: UInt8(worker % 3))
                        if cache.get(k) == nil { cache.put(k, [UInt8](repeating: UInt8(i % 256), count: 1 + i % 90)) }
                    }
                }
            }
        }
        let stats = cache.statistics
        #expect(stats.bytes <= 1000)
        #expect(stats.hits + stats.misses == 4000)
    }
}

@Suite(.ownThreads) struct ReadAheadTests {
    @Test func aLoneReadFetchesItsBytesAShortRunASpanAndAStreamWholeChunks() {
        var detector = ReadAheadDetector(chunkSize: 100, window: 2, span: 80, largeRead: 60, wholeAfter: 120)
        #expect(detector.record(offset: 0, length: 50, fileSize: 1000) == .exact)
        // Follows the last read, 100 bytes in a row: a span.
        #expect(detector.record(offset: 50, length: 50, fileSize: 1000) == ReadPlan(extend: 80))
        // 150 in a row: streaming, the next two chunks ahead.
        #expect(detector.record(offset: 100, length: 50, fileSize: 1000) == ReadPlan(wholeChunks: true, prefetch: 2..<4))
        #expect(detector.record(offset: 150, length: 100, fileSize: 1000) == ReadPlan(wholeChunks: true, prefetch: 3..<5))
        // A seek far away starts over.
        #expect(detector.record(offset: 700, length: 50, fileSize: 1000) == .exact)
        #expect(detector.record(offset: 750, length: 50, fileSize: 1000) == ReadPlan(extend: 80))
        // Near the end, read-ahead stops at the last chunk.
        #expect(detector.record(offset: 800, length: 100, fileSize: 1000) == ReadPlan(wholeChunks: true, prefetch: 9..<10))
        #expect(detector.record(offset: 900, length: 100, fileSize: 1000) == ReadPlan(wholeChunks: true))
        // A re-read a little behind the last end still continues the run; an empty read fetches nothing.
        #expect(detector.record(offset: 950, length: 50, fileSize: 1000) == ReadPlan(wholeChunks: true))
        #expect(detector.record(offset: 1000, length: 0, fileSize: 1000) == .exact)
        // A large read anywhere is taken for the first part of a larger one: filled up to a span.
        #expect(detector.record(offset: 400, length: 60, fileSize: 1000) == ReadPlan(extend: 20))
        #expect(detector.record(offset: 200, length: 59, fileSize: 1000) == .exact)
        // A lone read of a span or more is all its reader wants.
        #expect(detector.record(offset: 600, length: 80, fileSize: 1000) == .exact)
    }
}
