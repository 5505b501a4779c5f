import TestSupport
import Testing
import VishwaCore
@testable import VishwaFS

/// The arithmetic on offsets, sizes and times that come from local users: at the edges of what
/// the kernel passes on (offsets up to 2^63 - 1, times of any year), nothing traps.
@Suite(.ownThreads) struct LimitTests {
    @Test func timesOutsideTheCatalogsRangeAreRefusedOrClamped() {
        #expect(FileLimits.nanoseconds(seconds: 0, nanoseconds: 5) == 5)
        #expect(FileLimits.nanoseconds(seconds: -1, nanoseconds: 500_000_000) == -500_000_000)
        // 2262-04-11 and 1677-09-21 are the ends; 2300 and 1600 are past them.
        #expect(FileLimits.nanoseconds(seconds: 9_223_372_036, nanoseconds: 854_775_807) == Int64.max)
        #expect(FileLimits.nanoseconds(seconds: 9_223_372_036, nanoseconds: 854_775_808) == nil)
        #expect(FileLimits.nanoseconds(seconds: 10_413_792_000, nanoseconds: 0) == nil)  // 2300-01-01
        #expect(FileLimits.nanoseconds(seconds: -11_676_096_000, nanoseconds: 0) == nil)  // 1600-01-01
        #expect(FileLimits.nanoseconds(seconds: Int64.max, nanoseconds: 0) == nil)
        #expect(FileLimits.nanoseconds(seconds: Int64.min, nanoseconds: 0) == nil)
        #expect(FileLimits.nanoseconds(seconds: 0, nanoseconds: 1_000_000_000) == nil)
        #expect(FileLimits.nanoseconds(seconds: 0, nanoseconds: -1) == nil)
        #expect(FileLimits.clampedNanoseconds(seconds: 10_413_792_000, nanoseconds: 0) == Int64.max)
        #expect(FileLimits.clampedNanoseconds(seconds: -11_676_096_000, nanoseconds: 0) == Int64.min)
        #expect(FileLimits.clampedNanoseconds(seconds: 1, nanoseconds: 2) == 1_000_000_002)
    }

    @Test func readAheadTakesAnyOffsetTheKernelSends() {
        var detector = ReadAheadDetector(chunkSize: 4 << 20)
        for offset in [Int.max, Int.max - 4096, 1 << 62, FileLimits.maxFileSize, FileLimits.maxFileSize - 1, 0] {
            _ = detector.record(offset: offset, length: 128 << 10, fileSize: Int.max)
            _ = detector.record(offset: offset, length: Int.max, fileSize: FileLimits.maxFileSize)
        }
        // A long sequential run still switches to whole chunks, and its run count never overflows.
        var offset = 0
        var plan = ReadPlan.exact
        for _ in 0..<100 {
            plan = detector.record(offset: offset, length: 1 << 40, fileSize: FileLimits.maxFileSize)
            offset += 1 << 40
            if offset >= FileLimits.maxFileSize { offset = 0 }
        }
        #expect(plan.wholeChunks || plan == .exact)
        var stream = ReadAheadDetector(chunkSize: 4 << 20)
        var last = ReadPlan.exact
        for index in 0..<64 { last = stream.record(offset: index << 17, length: 1 << 17, fileSize: 1 << 30) }
        #expect(last.wholeChunks)
    }
}
