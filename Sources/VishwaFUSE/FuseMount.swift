import CFuse3
import Dispatch
import Foundation
import Logging
import Synchronization
import VishwaCatalog
import VishwaFS

#if canImport(Glibc)
import Glibc
#endif

/// Failures of setting up or running the mount, one line each.
public enum MountError: Error, CustomStringConvertible {
    case options(String)
    case mount(String)

    public var description: String {
        switch self {
        case .options(let what): return "bad mount options: \(what)"
        case .mount(let what): return what
        }
    }
}

/// A libfuse3 low-level session serving a `FileSystem` (docs/architecture.md §3–4).
///
/// Callbacks copy their arguments and hand the work to Swift concurrency; the answer is sent
/// from the task when it is ready, so no FUSE thread waits on the network. Replies in flight are
/// counted and drained before the session is destroyed.
public final class FuseMount: @unchecked Sendable {
    public let mountpoint: String
    public let attributeTimeout: Double
    public let entryTimeout: Double
    /// Whether this daemon checks permissions (see `FuseOperations.caller`): the mount was made
    /// without `default_permissions`, which the kernel then does not check.
    public let checksPermissions: Bool
    let logger: Logger
    /// Set before the loop starts and never changed after (the callbacks read it unguarded).
    private(set) var filesystem: FileSystem?
    private var session: OpaquePointer?
    private var mounted = false
    private let inflight = Atomic<Int>(0)

    /// Creates the session with `options` (libfuse `-o` options) and mounts it. Nothing is
    /// served until `serve` is called; the kernel queues requests meanwhile.
    public init(mountpoint: String, options: [String], attributeTimeout: Double, entryTimeout: Double, logger: Logger)
        throws(MountError)
    {
        self.mountpoint = mountpoint
        self.attributeTimeout = attributeTimeout
        self.entryTimeout = entryTimeout
        self.checksPermissions = !options.contains("default_permissions")
        self.logger = logger
        var arguments = ["vishwafs"]
        if !options.isEmpty { arguments += ["-o", options.joined(separator: ",")] }
        var argv = arguments.map { strdup($0) }
        defer { argv.forEach { free($0) } }
        var operations = FuseOperations.table()
        let created = argv.withUnsafeMutableBufferPointer { pointer -> OpaquePointer? in
            var args = fuse_args(argc: Int32(pointer.count), argv: pointer.baseAddress, allocated: 0)
            return fuse_session_new(&args, &operations, MemoryLayout<fuse_lowlevel_ops>.size,
                                    Unmanaged.passUnretained(self).toOpaque())
        }
        guard let created else { throw .options(options.joined(separator: ",")) }
        session = created
        guard fuse_set_signal_handlers(created) == 0 else {
            fuse_session_destroy(created)
            throw .mount("cannot install signal handlers")
        }
        let before = FuseMount.openDescriptors()
        guard fuse_session_mount(created, mountpoint) == 0 else {
            fuse_remove_signal_handlers(created)
            fuse_session_destroy(created)
            session = nil
            throw .mount("cannot mount at \(mountpoint) (see the line above)")
        }
        mounted = true
        guardAutoUnmount(opened: FuseMount.openDescriptors().subtracting(before).subtracting([fuse_session_fd(created)]))
    }

    /// With `auto_unmount`, libfuse leaves fusermount3 waiting on a Unix socket, the one new
    /// socket among the descriptors the mount opened; a child process holds it until this
    /// process has died and its connection is gone (see `vishwa_guard_auto_unmount`). The child
    /// keeps this moment's working directory, so a relative mountpoint stays valid in it.
    private func guardAutoUnmount(opened: Set<Int32>) {
        let sockets = opened.filter { vishwa_is_unix_socket($0) != 0 }
        guard sockets.count == 1, let socket = sockets.first else { return }
        if vishwa_guard_auto_unmount(socket, mountpoint) < 0 {
            logger.warning("cannot start the auto_unmount guard: \(String(cString: strerror(errno)))")
        }
    }

    /// The process's open file descriptors, from /proc/self/fd.
    private static func openDescriptors() -> Set<Int32> {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return Set(names.compactMap { Int32($0) })
    }

    /// Serves requests with a multi-threaded loop until unmount or SIGTERM/SIGINT; then commits
    /// open files, waits for replies in flight, unmounts and destroys the session. 0 when it
    /// stopped as asked, a negative errno when the loop failed.
    public func serve(_ filesystem: FileSystem) -> Int32 {
        guard let session else { return 1 }
        self.filesystem = filesystem
        FuseMount.setStopSignals(blocked: false)
        var config = fuse_loop_config(clone_fd: 0, max_idle_threads: 16)
        let status = vishwa_fuse_session_loop_mt(session, &config)
        logger.info("stopping: committing open files")
        blockingWait { await filesystem.closeAll() }
        drain()
        stop()
        // libfuse answers the number of the signal that stopped the loop; SIGTERM and SIGINT
        // are the documented ways to unmount (a service manager's stop), not failures.
        return status > 0 ? 0 : status
    }

    /// Unmounts and frees the session (also when `serve` was never called).
    public func stop() {
        guard let session else { return }
        if mounted { fuse_session_unmount(session) }
        fuse_remove_signal_handlers(session)
        fuse_session_destroy(session)
        self.session = nil
        mounted = false
    }

    /// Waits (up to a minute) for every task that still owes a reply.
    private func drain() {
        for _ in 0..<6000 where inflight.load(ordering: .acquiring) > 0 { usleep(10_000) }
        let left = inflight.load(ordering: .acquiring)
        if left > 0 { logger.warning("\(left) requests still unanswered at unmount") }
    }

    // MARK: Dispatch

    static func mount(of request: fuse_req_t?) -> FuseMount {
        Unmanaged<FuseMount>.fromOpaque(fuse_req_userdata(request)!).takeUnretainedValue()
    }

    /// Runs `work` in a task and sends its answer; errors become their errno (and EIO a log line).
    func answer(_ request: fuse_req_t?, _ work: @escaping @Sendable (FileSystem) async throws(FSError) -> Reply) {
        guard let request else { return }
        guard let filesystem else {
            fuse_reply_err(request, EIO)
            return
        }
        let pending = PendingRequest(raw: request)
        inflight.add(1, ordering: .relaxed)
        Task {
            let reply: Reply
            do {
                reply = try await work(filesystem)
            } catch {
                if case FSError.io(let what) = error { logger.error("\(what)") }
                reply = .error(Errno.code(for: error))
            }
            send(reply, to: pending.raw)
            inflight.subtract(1, ordering: .releasing)
        }
    }

    /// Runs `work` right here on the FUSE thread and replies: for operations that touch only the
    /// local catalog (a short SQLite call), where a hop to a task costs more than the work.
    func answerNow(_ request: fuse_req_t?, _ work: (FileSystem) throws(FSError) -> Reply) {
        guard let request else { return }
        guard let filesystem else {
            fuse_reply_err(request, EIO)
            return
        }
        let reply: Reply
        do {
            reply = try work(filesystem)
        } catch {
            if case .io(let what) = error { logger.error("\(what)") }
            reply = .error(Errno.code(for: error))
        }
        send(reply, to: request)
    }

    /// Makes the kernel forget the names it has cached in `directory`, after a chmod took search
    /// permission from some class: the kernel walks cached names without asking a server that
    /// checks permissions itself, so each must be looked up (and checked) again. Off the FUSE
    /// threads and after the reply: the kernel holds the directory's lock until then, and the
    /// notification takes it.
    func forgetNames(in directory: Int64) {
        guard let session, let filesystem else { return }
        let target = SessionPointer(raw: session)
        inflight.add(1, ordering: .relaxed)
        DispatchQueue.global().async { [self] in
            defer { inflight.subtract(1, ordering: .releasing) }
            guard let names = try? filesystem.names(in: directory) else { return }
            let parent = fuse_ino_t(UInt64(bitPattern: directory))
            for name in names {
                _ = name.withCString { fuse_lowlevel_notify_inval_entry(target.raw, parent, $0, strlen($0)) }
            }
        }
    }

    /// The one place that replies.
    func send(_ reply: Reply, to request: fuse_req_t) {
        switch reply {
        case .error(let code): fuse_reply_err(request, code)
        case .ok: fuse_reply_err(request, 0)
        case .none: fuse_reply_none(request)
        case .entry(let attributes):
            var entry = entryParameters(attributes)
            fuse_reply_entry(request, &entry)
        case .attributes(let attributes):
            var stat = attributes.stat
            fuse_reply_attr(request, &stat, attributeTimeout)
        case .bytes(let bytes):
            bytes.withUnsafeBufferPointer { buffer in
                _ = fuse_reply_buf(request, UnsafeRawPointer(buffer.baseAddress)?.assumingMemoryBound(to: CChar.self), buffer.count)
            }
        case .opened(let handle, let keepCache, let noFlush):
            var info = fuse_file_info()
            info.fh = handle
            info.keep_cache = keepCache ? 1 : 0
            info.noflush = noFlush ? 1 : 0
            fuse_reply_open(request, &info)
        case .created(let attributes, let handle):
            var entry = entryParameters(attributes)
            var info = fuse_file_info()
            info.fh = handle
            fuse_reply_create(request, &entry, &info)
        case .written(let count): fuse_reply_write(request, count)
        case .link(let target):
            var terminated = target.map { CChar(bitPattern: $0) }
            terminated.append(0)
            fuse_reply_readlink(request, terminated)
        case .statfs(let capacity):
            var info = statvfs()
            info.f_bsize = 4096
            info.f_frsize = 4096
            info.f_blocks = UInt(max(capacity.totalBytes, capacity.freeBytes) / 4096)
            info.f_bfree = UInt(capacity.freeBytes / 4096)
            info.f_bavail = info.f_bfree
            info.f_files = UInt(capacity.files) + 1_000_000
            info.f_ffree = 1_000_000
            info.f_favail = 1_000_000
            info.f_namemax = 255
            fuse_reply_statfs(request, &info)
        case .xattrSize(let size): fuse_reply_xattr(request, size)
        case .directory(let slots, let size, let plus):
            sendDirectory(slots, size: size, plus: plus, to: request)
        }
    }

    private func sendDirectory(_ slots: [DirectorySlot], size: Int, plus: Bool, to request: fuse_req_t) {
        var buffer = [CChar](repeating: 0, count: size)
        var used = 0
        buffer.withUnsafeMutableBufferPointer { out in
            for slot in slots {
                let needed: Int = slot.name.withCString { name in
                    let room = size - used
                    if plus {
                        var entry = entryParameters(slot.attributes)
                        return fuse_add_direntry_plus(request, out.baseAddress! + used, room, name, &entry, off_t(slot.offset))
                    }
                    var stat = slot.attributes.stat
                    return fuse_add_direntry(request, out.baseAddress! + used, room, name, &stat, off_t(slot.offset))
                }
                if needed > size - used { break }
                used += needed
            }
        }
        fuse_reply_buf(request, buffer, used)
    }

    func entryParameters(_ attributes: NodeAttributes) -> fuse_entry_param {
        var entry = fuse_entry_param()
        entry.ino = fuse_ino_t(attributes.id)
        entry.generation = 1
        entry.attr = attributes.stat
        entry.attr_timeout = attributeTimeout
        entry.entry_timeout = entryTimeout
        return entry
    }
}

/// Runs async `body` to completion from a thread outside the cooperative pool (main or a FUSE
/// thread); never call it from a task.
public func blockingWait<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let result = Mutex<T?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let value = await body()
        result.withLock { $0 = value }
        done.signal()
    }
    done.wait()
    return result.withLock { $0! }
}

extension FuseMount {
    static let stopSignals = [SIGTERM, SIGINT, SIGHUP]

    /// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and the threads it starts later).
    public static func blockStopSignals() { setStopSignals(blocked: true) }

    static func setStopSignals(blocked: Bool) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in stopSignals { sigaddset(&set, signal) }
        pthread_sigmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &set, nil)
    }

    /// Forks into the background unless `foreground` (libfuse's own daemonize: the parent exits
    /// once the child has detached). Call before any thread starts.
    public static func daemonize(foreground: Bool) {
        _ = fuse_daemonize(foreground ? 1 : 0)
    }

    /// Raises the kernel's read-ahead for this mount to 1 MiB: buffered reads then arrive as
    /// 1 MiB requests instead of 128 KiB, which costs the daemon far less CPU per byte.
    public func raiseReadAhead() {
        var info = stat()
        guard stat(mountpoint, &info) == 0 else { return }
        let device = UInt64(info.st_dev)
        let major = (device >> 8) & 0xfff | (device >> 32) & ~0xfff, minor = device & 0xff | (device >> 12) & ~0xff
        let path = "/sys/class/bdi/\(major):\(minor)/read_ahead_kb"
        let fd = open(path, O_WRONLY)
        guard fd >= 0 else { return }
        _ = "1024".withCString { write(fd, $0, 4) }
        close(fd)
    }
}
