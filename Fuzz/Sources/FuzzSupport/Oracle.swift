#if canImport(Glibc)
import Glibc
#endif

/// How a fuzz target reports a finding: by trapping, which libFuzzer records as a crash and
/// saves the input for (`crash-<sha1>`). Decoders must never trap on their own; these checks add
/// the properties a non-trapping decoder can still get wrong (round trips, state after errors).
public enum Oracle {
    /// Traps with `message` when `condition` is false.
    @inline(__always)
    public static func require(_ condition: Bool, _ message: @autoclosure () -> String,
                               file: StaticString = #fileID, line: UInt = #line) {
        if !condition { fatalError(message(), file: file, line: line) }
    }

    /// As `require`, for a bug already found and reported in Fuzz/README.md ("Bugs found") under
    /// `bug`. Ignored by default, so a run can look past it for new ones; with the environment
    /// variable `FUZZ_KNOWN_BUGS=crash` it traps like any finding (scripts/fuzz.sh replays the
    /// inputs kept in Fuzz/crashes/ that way, to tell whether the bug is still there).
    @inline(__always)
    public static func requireUnlessKnown(_ bug: String, _ condition: Bool, _ message: @autoclosure () -> String,
                                          file: StaticString = #fileID, line: UInt = #line) {
        if !condition && crashOnKnownBugs { fatalError("[\(bug)] " + message(), file: file, line: line) }
    }

    /// Read once: the environment does not change during a run.
    private static let crashOnKnownBugs: Bool = {
        guard let value = getenv("FUZZ_KNOWN_BUGS") else { return false }
        return String(cString: value) == "crash"
    }()
}
