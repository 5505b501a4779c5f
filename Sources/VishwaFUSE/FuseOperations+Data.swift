import CFuse3
import VishwaCatalog
import VishwaFS

#if canImport(Glibc)
import Glibc
#endif

extension FuseOperations {
    static func installFileOperations(_ ops: inout fuse_lowlevel_ops) {
        ops.create = { request, parent, name, mode, _ in
            let creator = FuseOperations.creator(request, mode: mode), caller = FuseOperations.caller(request)
            FuseOperations.withName(request, name) { name in
                FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                    // Only the directory is checked: the new file's handle may write even when
                    // its mode says read-only (git writes objects so).
                    try fs.require(.change, on: FuseOperations.node(parent), for: caller)
                    let (attributes, handle) = try fs.create(parent: FuseOperations.node(parent), name: name, creator: creator)
                    return .created(attributes, handle: handle)
                }
            }
        }
        ops.open = { request, inode, info in
            let flags = info?.pointee.flags ?? 0
            let writable = flags & O_ACCMODE != O_RDONLY
            let truncate = flags & O_TRUNC != 0
            if let caller = FuseOperations.caller(request) {
                var access: Access = flags & O_ACCMODE == O_WRONLY ? [] : .read
                if writable || truncate { access.insert(.write) }
                if flags & FuseOperations.openForExec != 0 { access.insert(.execute) }
                guard FuseOperations.permitted(request, { fs throws(FSError) in
                    try fs.require(access, on: FuseOperations.node(inode), for: caller)
                }) else { return }
            }
            FuseMount.mount(of: request).answer(request) { fs throws(FSError) in
                let (handle, keepCache) = try await fs.open(FuseOperations.node(inode), writable: writable, truncate: truncate)
                // A handle that changes nothing has nothing to commit when it closes: no FLUSH
                // round trip (the writers' own handles commit their changes).
                return .opened(handle: handle, keepCache: keepCache, noFlush: !writable && !truncate)
            }
        }
        ops.read = { request, _, size, offset, info in
            guard let handle = info?.pointee.fh else {
                fuse_reply_err(request, EBADF)
                return
            }
            FuseMount.mount(of: request).answer(request) { fs throws(FSError) in
                .bytes(try await fs.read(handle, offset: Int(offset), length: size))
            }
        }
        ops.write = { request, _, buffer, size, offset, info in
            guard let handle = info?.pointee.fh, let buffer else {
                fuse_reply_err(request, EBADF)
                return
            }
            // The buffer is libfuse's, reused as soon as this returns: copy it first.
            let bytes = Array(UnsafeRawBufferPointer(start: buffer, count: size))
            FuseMount.mount(of: request).answer(request) { fs throws(FSError) in
                .written(try await fs.write(handle, offset: Int(offset), bytes: bytes))
            }
        }
        ops.flush = { request, _, info in
            guard let handle = info?.pointee.fh else {
                fuse_reply_err(request, EBADF)
                return
            }
            guard FuseMount.mount(of: request).filesystem?.needsFlush(handle) ?? true else {
                fuse_reply_err(request, 0)
                return
            }
            FuseMount.mount(of: request).answer(request) { fs throws(FSError) in
                try await fs.flush(handle)
                return .ok
            }
        }
        ops.fsync = { request, _, _, info in
            guard let handle = info?.pointee.fh else {
                fuse_reply_err(request, EBADF)
                return
            }
            FuseMount.mount(of: request).answer(request) { fs throws(FSError) in
                try await fs.flush(handle, durable: true)
                return .ok
            }
        }
        ops.release = { request, _, info in
            guard let handle = info?.pointee.fh else {
                fuse_reply_err(request, 0)
                return
            }
            if FuseMount.mount(of: request).filesystem?.releaseQuickly(handle) == true {
                fuse_reply_err(request, 0)
                return
            }
            FuseMount.mount(of: request).answer(request) { fs throws(FSError) in
                await fs.release(handle)
                return .ok
            }
        }
    }

    static func installDirectoryOperations(_ ops: inout fuse_lowlevel_ops) {
        ops.opendir = { request, inode, _ in
            let caller = FuseOperations.caller(request)
            FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                try fs.require(.read, on: FuseOperations.node(inode), for: caller)
                return .opened(handle: try fs.openDirectory(FuseOperations.node(inode)), keepCache: false)
            }
        }
        ops.readdir = { request, inode, size, offset, info in
            FuseOperations.listDirectory(request, inode: inode, size: size, offset: offset, handle: info?.pointee.fh ?? 0, plus: false)
        }
        ops.readdirplus = { request, inode, size, offset, info in
            FuseOperations.listDirectory(request, inode: inode, size: size, offset: offset, handle: info?.pointee.fh ?? 0, plus: true)
        }
        ops.releasedir = { request, _, info in
            if let handle = info?.pointee.fh { FuseMount.mount(of: request).filesystem?.releaseDirectory(handle) }
            fuse_reply_err(request, 0)
        }
        ops.fsyncdir = { request, _, _, _ in
            // Every namespace change is already a committed catalog transaction; this puts them on disk.
            FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                try fs.sync()
                return .ok
            }
        }
        // Only asked on a mount without default_permissions (access(2), chdir): root too, since
        // even root may not execute a file without x bits.
        ops.access = { request, inode, mask in
            let caller = FuseOperations.anyCaller(request)
            FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                let attributes = try fs.attributes(of: FuseOperations.node(inode))
                guard attributes.allows(Access(rawValue: UInt32(mask) & 7), to: caller) else { throw .permissionDenied }
                return .ok
            }
        }
        ops.statfs = { request, _ in
            FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in .statfs(try fs.capacity()) }
        }
    }

    /// Answers a listing from slot `offset` on: 0 is `.`, 1 is `..`, then the entries by name.
    /// Each slot's cookie is the index of the next, so a listing resumes where it stopped.
    static func listDirectory(_ request: fuse_req_t?, inode: fuse_ino_t, size: Int, offset: off_t, handle: UInt64, plus: Bool) {
        FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
            let directory = FuseOperations.node(inode)
            let entries = try fs.entries(directory, handle: handle)
            let start = max(0, Int(offset))  // a cookie of ours; anything else starts over
            // A slot takes at least 24 bytes (more with attributes): never build more than fit.
            let most = size / (plus ? 150 : 24) + 2
            var slots: [DirectorySlot] = []
            if start <= 1 {
                let own = try fs.attributes(of: directory)
                if start == 0 { slots.append(DirectorySlot(name: ".", attributes: own, offset: 1)) }
                var up = own
                up.id = try fs.parent(of: directory)
                slots.append(DirectorySlot(name: "..", attributes: up, offset: 2))
            }
            let first = max(0, start - 2)
            if first < entries.count {
                for (index, entry) in entries[first..<min(entries.count, first + most)].enumerated() {
                    slots.append(DirectorySlot(name: entry.name, attributes: entry.attributes, offset: first + index + 3))
                }
            }
            return .directory(slots, size: size, plus: plus)
        }
    }

    static func installAttributeOperations(_ ops: inout fuse_lowlevel_ops) {
        ops.getxattr = { request, inode, name, size in
            let caller = FuseOperations.caller(request)
            FuseOperations.withName(request, name) { name in
                // user.* attributes follow the file's read and write bits, as in the kernel.
                let caller = name.hasPrefix("user.") ? caller : nil
                guard FuseOperations.permitted(request, { fs throws(FSError) in
                    try fs.require(.read, on: FuseOperations.node(inode), for: caller)
                }) else { return }
                if name == FileSystem.healthAttribute {
                    // Asks the hosts which shards they hold: off the FUSE thread.
                    FuseMount.mount(of: request).answer(request) { fs throws(FSError) in
                        FuseOperations.sized(Array(try await fs.health(FuseOperations.node(inode)).utf8), room: size)
                    }
                    return
                }
                FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                    FuseOperations.sized(try fs.extendedAttribute(FuseOperations.node(inode), name: name), room: size)
                }
            }
        }
        ops.listxattr = { request, inode, size in
            FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                let names = try fs.extendedAttributeNames(FuseOperations.node(inode))
                return FuseOperations.sized(names.flatMap { Array($0.utf8) + [0] }, room: size)
            }
        }
        ops.setxattr = { request, inode, name, value, size, flags in
            let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
            let create = Int(flags) & XATTR_CREATE != 0, replace = Int(flags) & XATTR_REPLACE != 0
            let caller = FuseOperations.caller(request)
            FuseOperations.withName(request, name) { name in
                FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                    try fs.require(.write, on: FuseOperations.node(inode), for: name.hasPrefix("user.") ? caller : nil)
                    try fs.setExtendedAttribute(FuseOperations.node(inode), name: name, value: bytes, create: create, replace: replace)
                    return .ok
                }
            }
        }
        ops.removexattr = { request, inode, name in
            let caller = FuseOperations.caller(request)
            FuseOperations.withName(request, name) { name in
                FuseMount.mount(of: request).answerNow(request) { fs throws(FSError) in
                    try fs.require(.write, on: FuseOperations.node(inode), for: name.hasPrefix("user.") ? caller : nil)
                    try fs.removeExtendedAttribute(FuseOperations.node(inode), name: name)
                    return .ok
                }
            }
        }
    }

    /// The xattr protocol: size 0 asks for the length; a smaller buffer than the value is ERANGE.
    static func sized(_ value: [UInt8], room: Int) -> Reply {
        if room == 0 { return .xattrSize(value.count) }
        if value.count > room { return .error(ERANGE) }
        return .bytes(value[...])
    }
}
