import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Large buffers about to be filled whole (a decoded chunk: 4 MiB) are fresh mappings: glibc
/// maps allocations of 2 MiB and more on their own (see vishwafs's mallopt, which keeps the
/// mount's memory bounded that way), and the kernel then gives them one 4 KiB page at a time:
/// a fault, a zeroed page and its accounting each, about a third of the mount's CPU in a
/// sequential read. Whole 2 MiB huge pages for the aligned part (the kernel's own setting here is
/// "madvise": only for memory that asks), and every page mapped in one call, cut the mount's CPU
/// for a cold 1 GiB read by a sixth. Mapping alone, without huge pages, saved nothing measurable.
public enum FreshMemory {
    /// Only buffers at least this large are worth the two system calls.
    public static let threshold = 1 << 20

    /// Off unless the process maps large allocations on their own (vishwafs turns it on beside
    /// its mallopt). With glibc's default, buffers come from the heap once the first is freed,
    /// and advice there would only split the heap's mapping.
    public static func enable() { enabled.store(true, ordering: .relaxed) }
    private static let enabled = Atomic<Bool>(false)

    private static let hugePage = 2 << 20
    private static let adviseHugePage: Int32 = 14   // MADV_HUGEPAGE
    private static let populateWrite: Int32 = 23    // MADV_POPULATE_WRITE (Linux 5.14)

    /// Maps the pages of `buffer` ahead of writing it. Best effort: any refusal (an older kernel,
    /// memory tight) leaves the pages to fault in as before.
    public static func prepare(_ buffer: UnsafeMutableRawBufferPointer) {
        guard enabled.load(ordering: .relaxed), buffer.count >= threshold, let base = buffer.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (Int(bitPattern: base) + page - 1) / page * page
        let end = (Int(bitPattern: base) + buffer.count) / page * page
        guard end > start else { return }
        let hugeStart = (start + hugePage - 1) / hugePage * hugePage
        let hugeEnd = end / hugePage * hugePage
        if hugeEnd > hugeStart {
            _ = madvise(UnsafeMutableRawPointer(bitPattern: hugeStart), hugeEnd - hugeStart, adviseHugePage)
        }
        _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, populateWrite)
    }
}
