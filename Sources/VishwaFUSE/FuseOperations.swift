import CFuse3
import VishwaCatalog
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

    static func nanoseconds(_ time: timespec) -> Int64 { Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec) }

    static func table() -> fuse_lowlevel_ops {
        var ops = fuse_lowlevel_ops()
        ops.`init` = { _, connection in
            guard let connection else { return }
            // Above 1 MiB the kernel rejects the session (see NOTES); 1 MiB writes keep per-request cost low.
            connection.pointee.max_write = 1 << 20
            // Always list with attributes: `ls -l` then needs no lookup per entry.
            let readdirplusAuto: UInt32 = 1 << 14
            connection.pointee.want &= ~readdirplusAuto
        }
        ops.lookup = { request, parent, name in
            FuseOperations.withName(request, name) { name in
                FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                    .entry(try fs.lookup(parent: FuseOperations.node(parent), name: name))
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
            if toSet & FuseOperations.setAtimeNow != 0 { changes.atime = now } else if toSet & FuseOperations.setAtime != 0 { changes.atime = FuseOperations.nanoseconds(attr.st_atim) }
            if toSet & FuseOperations.setMtimeNow != 0 { changes.mtime = now } else if toSet & FuseOperations.setMtime != 0 { changes.mtime = FuseOperations.nanoseconds(attr.st_mtim) }
            let size = toSet & FuseOperations.setSize != 0 ? Int(attr.st_size) : nil
            let frozen = changes
            guard let size else {
                FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                    .attributes(try fs.setAttributes(of: FuseOperations.node(inode), frozen))
                }
                return
            }
            FuseMount.mount(of: request).answer(request) { fs throws(FSError) in
                .attributes(try await fs.setAttributes(of: FuseOperations.node(inode), frozen, size: size, handle: handle))
            }
        }
        ops.readlink = { request, inode in
            FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in .link(try fs.readlink(FuseOperations.node(inode))) }
        }
        ops.mknod = { request, parent, name, mode, _ in
            guard mode & S_IFMT == S_IFREG else {
                // Device nodes, FIFOs and sockets have no meaning on hosts elsewhere.
                fuse_reply_err(request, EPERM)
                return
            }
            let creator = FuseOperations.creator(request, mode: mode)
            FuseOperations.withName(request, name) { name in
                FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                    .entry(try fs.make(parent: FuseOperations.node(parent), name: name, kind: .file, creator: creator))
                }
            }
        }
        ops.mkdir = { request, parent, name, mode in
            let creator = FuseOperations.creator(request, mode: mode)
            FuseOperations.withName(request, name) { name in
                FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                    .entry(try fs.make(parent: FuseOperations.node(parent), name: name, kind: .directory, creator: creator))
                }
            }
        }
        ops.symlink = { request, target, parent, name in
            guard let target else {
                fuse_reply_err(request, EINVAL)
                return
            }
            let bytes = Array(UnsafeRawBufferPointer(start: target, count: strlen(target)))
            let creator = FuseOperations.creator(request, mode: 0o777)
            FuseOperations.withName(request, name) { name in
                FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                    .entry(try fs.make(parent: FuseOperations.node(parent), name: name, kind: .symlink, creator: creator, target: bytes))
                }
            }
        }
        ops.unlink = { request, parent, name in
            FuseOperations.withName(request, name) { name in
                FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                    try fs.unlink(parent: FuseOperations.node(parent), name: name)
                    return .ok
                }
            }
        }
        ops.rmdir = { request, parent, name in
            FuseOperations.withName(request, name) { name in
                FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
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
            FuseOperations.withName(request, name) { name in
                FuseOperations.withName(request, newName) { newName in
                    FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                        try fs.rename(parent: FuseOperations.node(parent), name: name, newParent: FuseOperations.node(newParent), newName: newName,
                                            noReplace: flags & FuseOperations.renameNoReplace != 0, exchange: flags & FuseOperations.renameExchange != 0)
                        return .ok
                    }
                }
            }
        }
        ops.link = { request, inode, newParent, newName in
            FuseOperations.withName(request, newName) { newName in
                FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                    .entry(try fs.link(FuseOperations.node(inode), parent: FuseOperations.node(newParent), name: newName))
                }
            }
        }
        installFileOperations(&ops)
        installDirectoryOperations(&ops)
        installAttributeOperations(&ops)
        return ops
    }
}
