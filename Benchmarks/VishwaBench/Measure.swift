#if canImport(Glibc)
import Glibc
#endif

/// Timing and memory helpers for benchmarks. Noise on a shared machine is handled by repeating
/// rounds, alternating the contenders inside each round, and reporting medians.
public enum Measure {
    /// Monotonic nanoseconds.
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Runs `body` `iterations` times and returns the rate in MB/s (10^6 bytes) for `bytesPerIteration`.
    public static func rate(iterations: Int, bytesPerIteration: Int, _ body: () -> Void) -> Double {
        let start = now()
        for _ in 0..<iterations { body() }
        let seconds = Double(now() - start) / 1e9
        return Double(iterations * bytesPerIteration) / seconds / 1e6
    }

    public static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    /// How much the process's resident set grew at its peak while `body` ran, in bytes; nil when
    /// the kernel does not let us reset the peak (`/proc/self/clear_refs`, value 5, Linux ≥ 4.0).
    public static func peakResidentGrowth(_ body: () -> Void) -> Int? {
        guard resetPeakResident(), let before = statusField("VmRSS") else { return nil }
        body()
        guard let peak = statusField("VmHWM") else { return nil }
        return max(0, peak - before)
    }

    /// Resets VmHWM to the current resident size; false where the kernel does not allow it.
    static func resetPeakResident() -> Bool {
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "5", 1) == 1
    }

    /// A `kB` field of /proc/self/status, in bytes.
    static func statusField(_ name: String) -> Int? {
        guard let file = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix(name + ":") {
                let digits = text.dropFirst(name.count + 1).filter(\.isNumber)
                return Int(digits).map { $0 * 1024 }
            }
        }
        return nil
    }
}
