import Foundation
import Logging
import VishwaClient
import VishwaCore
import VishwaFS
import VishwaFUSE
import VishwaVault

#if canImport(Glibc)
import Glibc
#endif

/// glibc's mallopt (malloc.h is not part of Swift's Glibc module).
@_silgen_name("mallopt") func mallopt(_ parameter: Int32, _ value: Int32) -> Int32

/// One line on standard error, prefixed with the program name.
func printError(_ message: String) {
    FileHandle.standardError.write(Data(("vishwafs: " + message + "\n").utf8))
}

/// Everything that can be checked before the process forks is checked here, so a mistake is
/// reported on the terminal and not in a log file nobody reads.
func prepare(_ arguments: MountArguments) throws -> (VaultHome, Vault) {
    if !isPreparedMount(arguments.mountpoint) { try checkMountpoint(arguments) }
    let home = VaultHome(path: absolutePath(VaultHome.resolve(arguments.home, environment: ProcessInfo.processInfo.environment).path))
    guard FileManager.default.fileExists(atPath: home.path + "/catalog.sqlite") || FileManager.default.fileExists(atPath: home.keyFile)
    else { throw VaultError.missing(path: home.path) }
    if let file = arguments.passphraseFile {
        return (home, try Vault.open(in: home, passphrase: try PassphraseFile.read(file)))
    }
    let vault: Vault
    do {
        vault = try Vault.open(in: home, passphrase: nil)
    } catch {
        guard case .passphraseRequired = error, isatty(STDIN_FILENO) != 0 else { throw error }
        guard let typed = getpass("passphrase for \(home.keyFile): ") else { throw StartError.setup("no passphrase") }
        vault = try Vault.open(in: home, passphrase: Array(String(cString: typed).utf8))
    }
    return (home, vault)
}

/// `path` from the root: libfuse's daemonize moves to "/" even in the foreground, and the
/// catalog is opened after it.
func absolutePath(_ path: String) -> String {
    path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
}

/// `/dev/fd/N`: a FUSE device already mounted by the caller (libfuse's convention for privileged
/// mounters), which serves it as it is.
func isPreparedMount(_ path: String) -> Bool {
    path.hasPrefix("/dev/fd/") && Int32(path.dropFirst("/dev/fd/".count)) != nil
}

func checkMountpoint(_ arguments: MountArguments) throws {
    // Opening asks the daemon behind a mount (stat may answer from the kernel's cache).
    let probe = open(arguments.mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if probe >= 0 {
        close(probe)
    } else if errno == ENOTCONN {
        try clearDeadMount(at: arguments.mountpoint)
    }
    var info = stat()
    guard stat(arguments.mountpoint, &info) == 0 else {
        throw StartError.setup("mountpoint \(arguments.mountpoint) does not exist: \(String(cString: strerror(errno)))")
    }
    guard info.st_mode & S_IFMT == S_IFDIR else { throw StartError.setup("mountpoint \(arguments.mountpoint) is not a directory") }
    if !arguments.allowNonEmpty, let entries = try? FileManager.default.contentsOfDirectory(atPath: arguments.mountpoint),
       !entries.isEmpty {
        throw StartError.setup("mountpoint \(arguments.mountpoint) is not empty (\(entries.count) entries); "
                               + "mount on an empty folder, or pass -o nonempty to hide what is there")
    }
}

/// A vishwafs that died without its mount being taken away leaves the mountpoint answering
/// ENOTCONN; mounting again over it takes the dead mount away first (a lazy unmount, which
/// needs root), and otherwise says how to.
func clearDeadMount(at path: String) throws {
    let parent = (path as NSString).deletingLastPathComponent
    let absolute = realpath(parent.isEmpty ? "." : parent, nil).map { parent in
        defer { free(parent) }
        return String(cString: parent) + "/" + (path as NSString).lastPathComponent
    } ?? path
    let table = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
    let ours = table.split(separator: "\n").contains { line in
        let fields = line.split(separator: " ")
        return fields.count > 4 && fields[4] == absolute && line.contains(" - fuse.vishwafs ")
    }
    guard ours, umount2(absolute, Int32(MNT_DETACH)) == 0 else {
        throw StartError.setup("mountpoint \(path) is a dead FUSE mount (its daemon is gone): "
                               + "run fusermount3 -u \(path), then mount again")
    }
    FileHandle.standardError.write(Data("vishwafs: took away the dead mount at \(path)\n".utf8))
}

/// One mount per vault: a second would commit over the first's open files. The holder writes
/// its pid and mountpoint into the lock file, so that a mount that finds the lock taken can tell
/// a vault still mounted (refused at once) from a daemon finishing after its unmount (it commits
/// the last closes, stores the catalog backup and closes the catalog): that one is waited for,
/// up to `patience` seconds, since `fusermount3 -u M && vishwafs M` is how people remount.
func lockVault(_ home: VaultHome, patience: Double = 60) throws -> Int32 {
    let path = home.path + "/mount.lock"
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw StartError.setup("cannot open \(path): \(String(cString: strerror(errno)))") }
    var waited = false
    let deadline = Date().addingTimeInterval(patience)
    while flock(fd, LOCK_EX | LOCK_NB) != 0 {
        let holder = lockHolder(fd)
        guard let holder, !isVishwaMount(holder.mountpoint), Date() < deadline else {
            close(fd)
            let which = holder.map { " (pid \($0.pid), at \($0.mountpoint))" } ?? ""
            throw StartError.setup("the vault at \(home.path) is already mounted by another vishwafs\(which)"
                                   + (waited ? ", which did not finish within \(Int(patience)) s of its unmount" : ""))
        }
        if !waited {
            printError("waiting for the vishwafs that unmounted \(holder.mountpoint) (pid \(holder.pid)) to finish")
            waited = true
        }
        usleep(50_000)
    }
    return fd
}

/// Writes this process as the lock's holder (after the fork: the daemon's pid).
func recordLockHolder(_ fd: Int32, mountpoint: String, logger: Logger) {
    let record = Array("\(getpid())\n\(mountpoint)\n".utf8)
    if ftruncate(fd, 0) != 0 || pwrite(fd, record, record.count, 0) != record.count {
        logger.warning("cannot record this mount in mount.lock: \(String(cString: strerror(errno)))")
    }
}

/// The pid and mountpoint the lock's holder recorded; nil when it recorded none (yet).
func lockHolder(_ fd: Int32) -> (pid: Int32, mountpoint: String)? {
    var buffer = [UInt8](repeating: 0, count: 8192)
    let count = pread(fd, &buffer, buffer.count, 0)
    guard count > 0 else { return nil }
    let lines = String(decoding: buffer[..<count], as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
    guard lines.count >= 2, let pid = Int32(lines[0]), lines[1].hasPrefix("/") else { return nil }
    return (pid, String(lines[1]))
}

/// Whether a vishwafs mount is at `path` in this process's view (mountinfo escapes a space,
/// tab, newline and backslash in paths as octal).
func isVishwaMount(_ path: String) -> Bool {
    let escaped = path.replacingOccurrences(of: "\\", with: "\\134").replacingOccurrences(of: " ", with: "\\040")
        .replacingOccurrences(of: "\t", with: "\\011").replacingOccurrences(of: "\n", with: "\\012")
    let table = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
    return table.split(separator: "\n").contains { line in
        let fields = line.split(separator: " ")
        return fields.count > 4 && fields[4] == escaped && line.contains(" - fuse.vishwafs ")
    }
}

/// In the background, log lines go to `vishwafs.log` in the vault's folder.
func redirectLog(to path: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
    if fd >= 0 {
        dup2(fd, STDERR_FILENO)
        close(fd)
    }
}

func main() -> Int32 {
    // Before the vault key is read: a dump would hold it and every plaintext chunk in memory.
    if let failure = CoreDumps.disable() { printError("warning: \(failure)") }
    let parsed: MountArguments
    do {
        switch try MountArguments.parse(Array(CommandLine.arguments.dropFirst())) {
        case .help:
            print(MountArguments.usage)
            return 0
        case .version:
            print("vishwafs 0.1.0 (libfuse \(Errno.libfuseVersion))")
            return 0
        case .mount(var arguments):
            if !isPreparedMount(arguments.mountpoint) { arguments.mountpoint = absolutePath(arguments.mountpoint) }
            parsed = arguments
        }
    } catch {
        printError("\(error)")
        return 64
    }
    // libfuse's handlers for these signals end the loop only when they run on the thread in the
    // loop: block them here, before any thread exists, so every thread inherits the block, and
    // FuseMount.serve unblocks them on the serving thread alone.
    FuseMount.blockStopSignals()
    // Chunk buffers (4 MiB and more) are mapped and unmapped on their own, never kept in malloc's
    // arenas: without a fixed threshold glibc raises it after the first free and the arenas of
    // many threads hold freed chunks, so memory would grow past cache_size for no use. 1 MiB
    // write requests stay below it and reuse heap memory (no page faults per request). Measured
    // (1 GiB dd): 131-136 MB/s at 367 MiB peak, against 134-174 MB/s at 425-500 MiB without.
    _ = mallopt(-3 /* M_MMAP_THRESHOLD */, 2 << 20)
    _ = mallopt(-8 /* M_ARENA_MAX */, 2)
    // A fixed mmap threshold also pins the trim threshold at 128 KiB: every unlink then gave a
    // few hundred KiB back to the kernel (SQLite frees its statement memory) and took them again
    // (1.5 brk calls and 5 page faults per unlink, each shrink a TLB flush on the other CPU). An
    // arena keeps up to 4 MiB free at its top instead.
    _ = mallopt(-1 /* M_TRIM_THRESHOLD */, 4 << 20)
    // Chunk buffers are mappings of their own (above): map them ahead, in huge pages.
    FreshMemory.enable()
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = parsed.debug ? .debug : .info
        return handler
    }
    let logger = Logger(label: "vishwafs")
    let home: VaultHome, vault: Vault, mount: FuseMount, lock: Int32
    do {
        (home, vault) = try prepare(parsed)
        lock = try lockVault(home)
        // The kernel checks permissions (default_permissions) where other users may enter. A
        // private mount's only callers are its owner (and root, with allow_root): the daemon
        // checks for them, and the kernel stops asking for a directory's attributes before
        // every create, unlink and rename in it (one round trip of three for an unlink).
        var fuseOptions = ["fsname=vishwa", "subtype=vishwafs"] + parsed.fuseOptions
        if parsed.fuseOptions.contains("allow_other") && !fuseOptions.contains("default_permissions") {
            fuseOptions.append("default_permissions")
        }
        if parsed.debug { fuseOptions.append("debug") }
        mount = try FuseMount(mountpoint: parsed.mountpoint, options: fuseOptions, attributeTimeout: parsed.attributeTimeout,
                              entryTimeout: parsed.entryTimeout, logger: logger)
    } catch {
        printError("\(error)")
        return 1
    }
    // Fork now, before any thread exists; the parent returns once the child is set up.
    FuseMount.daemonize(foreground: parsed.foreground)
    if !parsed.foreground { redirectLog(to: home.path + "/vishwafs.log") }
    recordLockHolder(lock, mountpoint: parsed.mountpoint, logger: logger)
    let filesystem: FileSystem
    do {
        let session = try VaultSession(home: home, vault: vault, logger: logger, syncEveryCommit: false)
        filesystem = FileSystem(session: session, options: parsed.options)
        try blockingWait { () async -> Result<Void, any Error> in
            do { try await filesystem.recover() } catch { return .failure(error) }
            return .success(())
        }.get()
    } catch {
        logger.error("cannot start: \(error)")
        mount.stop()
        return 1
    }
    // It stats the mountpoint, which the kernel asks of us: only once the loop below serves.
    if !isPreparedMount(parsed.mountpoint) { Thread.detachNewThread { mount.raiseReadAhead() } }
    let monitor = HostMonitor.start(session: filesystem.session, logger: logger)
    let healer = HealLoop(session: filesystem.session, logger: logger, interval: .milliseconds(Int(parsed.healInterval * 1000)),
                          grace: .milliseconds(Int(parsed.healGrace * 1000)),
                          bytesPerSecond: parsed.healRate > 0 ? parsed.healRate : nil)
    healer.start()
    let collector = collectGarbageOften(filesystem.session, every: .milliseconds(Int(parsed.gcInterval * 1000)),
                                        minAge: Int64(parsed.gcMinAge))
    let checkpoints = checkpointOften(filesystem.session)
    let backups = BackupLoop(session: filesystem.session, logger: logger, interval: .milliseconds(Int(parsed.backupInterval * 1000)))
    backups.start()
    logger.info("mounted \(home.path) at \(parsed.mountpoint)")
    let status = mount.serve(filesystem)
    monitor.stop()
    healer.stop()
    collector?.stop()
    checkpoints.stop()
    backups.stop()
    blockingWait { await backups.finish() }  // after the open files' last commits
    blockingWait { await filesystem.session.close() }
    logger.info("unmounted \(parsed.mountpoint)")
    return status == 0 ? 0 : 1
}

/// The catalog's checkpoints, four times a second, off the FUSE threads (see `Catalog.checkpoint`).
func checkpointOften(_ session: VaultSession) -> Repeating {
    let catalog = session.catalog
    return Repeating(every: .milliseconds(250)) {
        do {
            try await session.blocking { try catalog.checkpoint() }
        } catch {
            session.logger.warning("catalog checkpoint failed: \(error)")
        }
    }
}

exit(main())
