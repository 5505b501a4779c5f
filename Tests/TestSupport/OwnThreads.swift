import Foundation
import Testing

/// Runs each test case of a suite on threads of its own instead of Swift's cooperative pool.
///
/// The cooperative pool has one thread per core, two on our machines. Tests that block their
/// thread (waiting for a child process, polling with sleeps) therefore stalled every other async
/// test, its timers included: in CI a 0.5 s request timeout once came back after 39 s, because two
/// mount and CLI tests held both threads. Suites that block take this trait; the pool stays free.
public struct OwnThreads: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        testCase == nil ? nil : self
    }

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        try await withTaskExecutorPreference(ThreadPerJobExecutor.shared) { try await function() }
    }
}

extension Trait where Self == OwnThreads {
    /// Run on threads of their own, so blocking never starves other tests (see `OwnThreads`).
    public static var ownThreads: Self { OwnThreads() }
}

/// A task executor that starts a thread for every job. Costly for real work, right for tests:
/// a job that blocks holds only its own thread.
final class ThreadPerJobExecutor: TaskExecutor, Sendable {
    static let shared = ThreadPerJobExecutor()

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        let thread = Thread { job.runSynchronously(on: executor) }
        thread.start()
    }
}

/// Runs `body`, which blocks (sockets, sleeps), on a thread of its own and returns its result:
/// a task that blocked a thread of the cooperative pool instead would stall every other task of
/// the test process, a host served in it included.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: body()) }.start()
    }
}
