#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing
import VishwaCore

/// `FreshMemory.prepare` maps a fresh buffer's pages before they are written, and changes nothing
/// a caller can see otherwise.
@Suite(.ownThreads)
struct FreshMemoryTests {
    /// Pages of `region` the kernel has mapped (mincore).
    static func residentPages(_ region: UnsafeMutableRawPointer, _ length: Int) -> Int {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var vector = [UInt8](repeating: 0, count: length / page)
        #expect(mincore(region, length, &vector) == 0)
        return vector.filter { $0 & 1 != 0 }.count
    }

    @Test func aFreshMappingIsMappedWholeAndKeepsWhatIsWritten() throws {
        let length = 6 << 20
        let region = try #require(mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        #expect(region != MAP_FAILED)
        defer { munmap(region, length) }
        #expect(Self.residentPages(region, length) == 0)
        FreshMemory.enable()
        // An unaligned buffer inside, as glibc hands out: the pages it covers whole are mapped.
        let buffer = UnsafeMutableRawBufferPointer(start: region + 100, count: length - 8192)
        FreshMemory.prepare(buffer)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        #expect(Self.residentPages(region, length) >= (length - 8192 - 100) / page - 1)
        for i in stride(from: 0, to: buffer.count, by: 4093) { buffer[i] = UInt8(truncatingIfNeeded: i) }
        for i in stride(from: 0, to: buffer.count, by: 4093) { #expect(buffer[i] == UInt8(truncatingIfNeeded: i)) }
    }

    @Test func smallBuffersAreLeftAlone() throws {
        let length = 64 << 10
        let region = try #require(mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        defer { munmap(region, length) }
        FreshMemory.enable()
        FreshMemory.prepare(UnsafeMutableRawBufferPointer(start: region, count: length))
        #expect(Self.residentPages(region, length) == 0)
    }
}
