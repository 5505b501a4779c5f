#if canImport(Glibc)
import Glibc
#endif

/// prctl(2) is variadic in C, which Swift does not import; every argument here is a word.
@_silgen_name("prctl") private func prctl(_ option: Int32, _ arg2: UInt, _ arg3: UInt, _ arg4: UInt, _ arg5: UInt) -> Int32

/// Our processes hold plaintext, file keys and the master key in memory: a core dump would put
/// them on disk for anyone who can read the dump (systemd-coredump, apport, a core file in the
/// working folder), and a dumpable process can be read with ptrace by any process of its user.
public enum CoreDumps {
    static let setDumpable: Int32 = 4  // PR_SET_DUMPABLE
    static let getDumpable: Int32 = 3  // PR_GET_DUMPABLE

    /// Turns core dumps off for this process and its children (RLIMIT_CORE 0, and not dumpable,
    /// which also covers a core pattern that pipes to a helper, where the limit does not apply).
    /// Called first thing in every executable, before any secret is read. Returns what failed, if
    /// anything, for a warning: the process still runs.
    @discardableResult
    public static func disable() -> String? {
        var failures: [String] = []
        var none = rlimit(rlim_cur: 0, rlim_max: 0)
        if setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &none) != 0 { failures.append("RLIMIT_CORE: \(String(cString: strerror(errno)))") }
        if prctl(setDumpable, 0, 0, 0, 0) != 0 { failures.append("PR_SET_DUMPABLE: \(String(cString: strerror(errno)))") }
        return failures.isEmpty ? nil : "could not turn core dumps off (" + failures.joined(separator: ", ") + ")"
    }

    /// Whether this process may dump core (PR_GET_DUMPABLE).
    public static var dumpable: Bool { prctl(getDumpable, 0, 0, 0, 0) != 0 }
}
