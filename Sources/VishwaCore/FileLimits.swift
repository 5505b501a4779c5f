/// The largest file and the range of times the vault represents. Offsets, sizes and times come
/// from local users (any user, on a mount with `allow_other`) and from local files being
/// uploaded: each is checked against these before any arithmetic, so none can trap.
public enum FileLimits {
    /// The largest file size: 1 PiB (2^50 bytes). Every offset below it plus a chunk (at most
    /// 256 MiB), a request (a few MiB) or a read-ahead window stays far below 2^63, and its
    /// chunk count fits every counter. Writes past it answer EFBIG, as a size past it does.
    public static let maxFileSize = 1 << 50

    /// Nanoseconds since the epoch in an Int64, as the catalog stores times: from 1677-09-21 to
    /// 2262-04-11. nil for a time outside that range, or nanoseconds outside 0..<10^9.
    public static func nanoseconds(seconds: Int64, nanoseconds: Int64) -> Int64? {
        guard (0..<1_000_000_000).contains(nanoseconds) else { return nil }
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return nil }
        let (sum, carry) = scaled.addingReportingOverflow(nanoseconds)
        return carry ? nil : sum
    }

    /// As `nanoseconds(seconds:nanoseconds:)`, but a time outside the range becomes its nearest
    /// end: for times read from local files, which an upload records and never refuses.
    public static func clampedNanoseconds(seconds: Int64, nanoseconds: Int64) -> Int64 {
        if let exact = Self.nanoseconds(seconds: seconds, nanoseconds: min(max(nanoseconds, 0), 999_999_999)) { return exact }
        return seconds < 0 ? Int64.min : Int64.max
    }
}
