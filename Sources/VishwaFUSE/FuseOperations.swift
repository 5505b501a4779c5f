import CFuse3
import VishwaCatalog
import VishwaCore
import VishwaFS

#if canImport(Glibc)
import Glibc
#endif

/// The libfuse low-level operations table. Each callback copies what it needs from its
/// arguments (they die when it returns), checks names, and hands the work to `FuseMount.answer`.
/// Operations left out answer ENOSYS from libfuse, and the kernel then does the right thing
/// itself (POSIX locks stay local, `fallocate` is EOPNOTSUPP, `copy_file_range` falls back).
enum FuseOperations {
    // fuse_lowlevel.h's FUSE_SET_ATTR_* bits.
    static let setMode: Int32 = 1 << 0, setUID: Int32 = 1 << 1, setGID: Int32 = 1 << 2, setSize: Int32 = 1 << 3
    static let setAtime: Int32 = 1 << 4, setMtime: Int32 = 1 << 5, setAtimeNow: Int32 = 1 << 7, setMtimeNow: Int32 = 1 << 8
    static let renameNoReplace: UInt32 = 1, renameExchange: UInt32 = 2
    /// The kernel's __FMODE_EXEC in an open's flags: the open of an execve.
    static let openForExec: Int32 = 0x20

    /// A name from the kernel as a String: at most 255 bytes and valid UTF-8, or the errno to answer.
    static func name(_ pointer: UnsafePointer<CChar>?) -> Result<String, FSError> {
        guard let pointer else { return .failure(.invalidName) }
        let length = strlen(pointer)
        guard length <= 255 else { return .failure(.nameTooLong) }
        let bytes = UnsafeRawBufferPointer(start: pointer, count: length).bindMemory(to: UInt8.self)
        guard let text = String(validating: bytes, as: UTF8.self) else { return .failure(.illegalByteSequence) }
        return .success(text)
    }

    /// Runs `body` with a checked name, or answers its error at once.
    static func withName(_ request: fuse_req_t?, _ raw: UnsafePointer<CChar>?, _ body: (String) -> Void) {
        switch name(raw) {
        case .success(let text): body(text)
        case .failure(let error): fuse_reply_err(request, Errno.code(for: error))
        }
    }

    static func creator(_ request: fuse_req_t?, mode: mode_t) -> Creator {
        let context = fuse_req_ctx(request)!.pointee
        return Creator(uid: context.uid, gid: context.gid, permissions: UInt32(mode) & 0o7777)
    }

    static func node(_ inode: fuse_ino_t) -> Int64 { Int64(bitPattern: UInt64(inode)) }

    /// The caller, for the permission checks this daemon makes on a mount without
    /// `default_permissions` (FileSystem.require); nil when the kernel checks, and for root, who
    /// passes every check left to a server (CAP_DAC_OVERRIDE: the kernel itself still refuses to
    /// execute a file without x bits).
    static func caller(_ request: fuse_req_t?) -> Caller? {
        guard FuseMount.mount(of: request).checksPermissions, fuse_req_ctx(request)!.pointee.uid != 0 else { return nil }
        return anyCaller(request)
    }

    /// The caller as it is, root included. Its groups are read only while the request is
    /// unanswered (the checks run before the reply).
    static func anyCaller(_ request: fuse_req_t?) -> Caller {
        let context = fuse_req_ctx(request)!.pointee
        let pending = PendingRequest(raw: request!)
        return Caller(uid: context.uid, gid: context.gid) { supplementaryGroups(pending.raw) }
    }

    /// The caller's supplementary groups, which libfuse reads from /proc (none if it cannot).
    static func supplementaryGroups(_ request: fuse_req_t) -> [UInt32] {
        var groups = [gid_t](repeating: 0, count: 64)
        var count = fuse_req_getgroups(request, Int32(groups.count), &groups)
        if count > Int32(groups.count) {
            groups = [gid_t](repeating: 0, count: Int(count))
            count = fuse_req_getgroups(request, count, &groups)
        }
        return count > 0 ? Array(groups.prefix(Int(count))) : []
    }

    /// Runs a check on the FUSE thread before work goes to a task; false, with its errno
    /// answered, when it fails.
    static func permitted(_ request: fuse_req_t?, _ check: (FileSystem) throws(FSError) -> Void) -> Bool {
        guard let filesystem = FuseMount.mount(of: request).filesystem else {
            fuse_reply_err(request, EIO)
            return false
        }
        do {
            try check(filesystem)
            return true
        } catch {
            fuse_reply_err(request, Errno.code(for: error))
            return false
        }
    }

    /// A time from a caller as the catalog stores it; nil (EINVAL) outside what it can represent.
    static func nanoseconds(_ time: timespec) -> Int64? {
        FileLimits.nanoseconds(seconds: Int64(time.tv_sec), nanoseconds: Int64(time.tv_nsec))
    }

    static func table() -> fuse_lowlevel_ops {
        var ops = fuse_lowlevel_ops()
        ops.`init` = { _, connection in
            guard let connection else { return }
            // Above 1 MiB the kernel rejects the session; 1 MiB writes keep per-request cost low.
            connection.pointee.max_write = 1 << 20
            // Always list with attributes: `ls -l` then needs no lookup per entry.
            let readdirplusAuto: UInt32 = 1 << 14
            connection.pointee.want &= ~readdirplusAuto
        }
        ops.lookup = { request, parent, name in
            let caller = FuseOperations.caller(request)
            FuseOperations.withName(request, name) { name in
                FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                    .entry(try fs.lookup(parent: FuseOperations.node(parent), name: name, for: caller))
                }
            }
        }
        ops.forget = { request, _, _ in fuse_reply_none(request) }
        ops.forget_multi = { request, _, _ in fuse_reply_none(request) }
        ops.getattr = { request, inode, _ in
            FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in .attributes(try fs.attributes(of: FuseOperations.node(inode))) }
        }
        ops.setattr = { request, inode, attr, toSet, info in
            guard let attr = attr?.pointee else {
                fuse_reply_err(request, EINVAL)
                return
            }
            let handle = info.map { $0.pointee.fh }
            var changes = AttributeChanges()
            if toSet & FuseOperations.setMode != 0 { changes.permissions = UInt32(attr.st_mode) & 0o7777 }
            if toSet & FuseOperations.setUID != 0 { changes.uid = attr.st_uid }
            if toSet & FuseOperations.setGID != 0 { changes.gid = attr.st_gid }
            let now = Catalog.now()
            if toSet & FuseOperations.setAtimeNow != 0 { changes.atime = now } else if toSet & FuseOperations.setAtime != 0 {
                changes.atime = FuseOperations.nanoseconds(attr.st_atim)
                guard changes.atime != nil else {
                    fuse_reply_err(request, EINVAL)  // never stored as some other time
                    return
                }
            }
            if toSet & FuseOperations.setMtimeNow != 0 { changes.mtime = now } else if toSet & FuseOperations.setMtime != 0 {
                changes.mtime = FuseOperations.nanoseconds(attr.st_mtim)
                guard changes.mtime != nil else {
                    fuse_reply_err(request, EINVAL)
                    return
                }
            }
            let size = toSet & FuseOperations.setSize != 0 ? Int(attr.st_size) : nil
            if let caller = FuseOperations.caller(request) {
                // Times set to now (touch) need less than a time set to a given value.
                let explicitTimes = (toSet & FuseOperations.setAtime != 0 && toSet & FuseOperations.setAtimeNow == 0)
                    || (toSet & FuseOperations.setMtime != 0 && toSet & FuseOperations.setMtimeNow == 0)
                guard FuseOperations.permitted(request, { fs throws(FSError) in
                    changes = try fs.attributes(of: FuseOperations.node(inode))
                        .permit(changes, timesToNow: !explicitTimes, truncates: size != nil && handle == nil, by: caller)
                }) else { return }
            }
            let frozen = changes
            guard let size else {
                let mount = FuseMount.mount(of: request)
                var mayCloseSearch = false
                mount.answerNow(request) { fs throws(FSError) in
                    let attributes = try fs.setAttributes(of: FuseOperations.node(inode), frozen)
                    // A new owner or group moves callers between classes as a mode without x does.
                    mayCloseSearch = attributes.kind == .directory
                        && (frozen.uid != nil || frozen.gid != nil || (frozen.permissions != nil && attributes.permissions & 0o111 != 0o111))
                    return .attributes(attributes)
                }
                if mayCloseSearch && mount.checksPermissions { mount.forgetNames(in: FuseOperations.node(inode)) }
                return
            }
            FuseMount.mount(of: request).answer(request) { fs throws(FSError) in
                .attributes(try await fs.setAttributes(of: FuseOperations.node(inode), frozen, size: size, handle: handle))
            }
        }
        ops.readlink = { request, inode in
            FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in .link(try fs.readlink(FuseOperations.node(inode))) }
        }
        // Regular files, and FIFOs, sockets (bind) and device nodes as nodes without data: what
        // they do happens in the kernel of whoever opens them.
        ops.mknod = { request, parent, name, mode, rdev in
            guard let kind = NodeKind(typeBits: UInt32(mode)), kind == .file || kind.isSpecial else {
                fuse_reply_err(request, EINVAL)
                return
            }
            // As the kernel asks of mknod(2) (it checks CAP_MKNOD before asking us; this daemon
            // sees only the uid): devices for root alone.
            if kind.isDevice && fuse_req_ctx(request)!.pointee.uid != 0 {
                fuse_reply_err(request, EPERM)
                return
            }
            let creator = FuseOperations.creator(request, mode: mode), caller = FuseOperations.caller(request)
            FuseOperations.withName(request, name) { name in
                FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                    try fs.require(.change, on: FuseOperations.node(parent), for: caller)
                    return .entry(try fs.make(parent: FuseOperations.node(parent), name: name, kind: kind, creator: creator,
                                              rdev: UInt64(rdev)))
                }
            }
        }
        ops.mkdir = { request, parent, name, mode in
            let creator = FuseOperations.creator(request, mode: mode), caller = FuseOperations.caller(request)
            FuseOperations.withName(request, name) { name in
                FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                    try fs.require(.change, on: FuseOperations.node(parent), for: caller)
                    return .entry(try fs.make(parent: FuseOperations.node(parent), name: name, kind: .directory, creator: creator))
                }
            }
        }
        ops.symlink = { request, target, parent, name in
            guard let target else {
                fuse_reply_err(request, EINVAL)
                return
            }
            let bytes = Array(UnsafeRawBufferPointer(start: target, count: strlen(target)))
            let creator = FuseOperations.creator(request, mode: 0o777), caller = FuseOperations.caller(request)
            FuseOperations.withName(request, name) { name in
                FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                    try fs.require(.change, on: FuseOperations.node(parent), for: caller)
                    return .entry(try fs.make(parent: FuseOperations.node(parent), name: name, kind: .symlink, creator: creator,
                                              target: bytes))
                }
            }
        }
        ops.unlink = { request, parent, name in
            let caller = FuseOperations.caller(request)
            FuseOperations.withName(request, name) { name in
                FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                    try fs.require(.change, on: FuseOperations.node(parent), for: caller)
                    try fs.unlink(parent: FuseOperations.node(parent), name: name)
                    return .ok
                }
            }
        }
        ops.rmdir = { request, parent, name in
            let caller = FuseOperations.caller(request)
            FuseOperations.withName(request, name) { name in
                FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                    try fs.require(.change, on: FuseOperations.node(parent), for: caller)
                    try fs.rmdir(parent: FuseOperations.node(parent), name: name)
                    return .ok
                }
            }
        }
        ops.rename = { request, parent, name, newParent, newName, flags in
            guard flags & ~(FuseOperations.renameNoReplace | FuseOperations.renameExchange) == 0, flags != FuseOperations.renameNoReplace | FuseOperations.renameExchange else {
                fuse_reply_err(request, EINVAL)  // RENAME_WHITEOUT is for overlay filesystems
                return
            }
            let caller = FuseOperations.caller(request)
            FuseOperations.withName(request, name) { name in
                FuseOperations.withName(request, newName) { newName in
                    FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                        try fs.requireRename(parent: FuseOperations.node(parent), name: name, newParent: FuseOperations.node(newParent),
                                             newName: newName, exchange: flags & FuseOperations.renameExchange != 0, for: caller)
                        try fs.rename(parent: FuseOperations.node(parent), name: name, newParent: FuseOperations.node(newParent), newName: newName,
                                            noReplace: flags & FuseOperations.renameNoReplace != 0, exchange: flags & FuseOperations.renameExchange != 0)
                        return .ok
                    }
                }
            }
        }
        ops.link = { request, inode, newParent, newName in
            let caller = FuseOperations.caller(request)
            FuseOperations.withName(request, newName) { newName in
                FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                    try fs.require(.change, on: FuseOperations.node(newParent), for: caller)
                    return .entry(try fs.link(FuseOperations.node(inode), parent: FuseOperations.node(newParent), name: newName))
                }
            }
        }
        installFileOperations(&ops)
        installDirectoryOperations(&ops)
        installAttributeOperations(&ops)
        return ops
    }
}
