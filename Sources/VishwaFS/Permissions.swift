import VishwaCatalog

/// Who makes a request, as the kernel reports it to a FUSE server (the filesystem ids).
public struct Caller: Sendable {
    public let uid: UInt32
    public let gid: UInt32
    /// The supplementary groups: asked only when a check needs them, since the kernel does not
    /// send them and reading them costs a read of /proc.
    let groups: @Sendable () -> [UInt32]

    public init(uid: UInt32, gid: UInt32, groups: @escaping @Sendable () -> [UInt32]) {
        self.uid = uid
        self.gid = gid
        self.groups = groups
    }

    /// Root overrides read and write permission (and search of directories), as the kernel's
    /// CAP_DAC_OVERRIDE does.
    public var isRoot: Bool { uid == 0 }

    func isMember(of group: UInt32) -> Bool { gid == group || groups().contains(group) }
}

/// The rwx bits a request needs (the values of R_OK, W_OK and X_OK).
public struct Access: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let read = Access(rawValue: 4)
    public static let write = Access(rawValue: 2)
    public static let execute = Access(rawValue: 1)
    /// What changing a directory's entries needs.
    public static let change: Access = [.write, .execute]
}

/// POSIX permission checks (owner, group or other bits, root's override), for mounts where the
/// daemon checks instead of the kernel (see `FileSystem.require`).
extension NodeAttributes {
    /// Whether `caller` may `access` this node. Only one class of bits applies: the owner's to the
    /// owner even when the group's or others' would give more, as in the kernel.
    public func allows(_ access: Access, to caller: Caller) -> Bool {
        if caller.isRoot {
            // Execute needs one x bit even for root; searching a directory does not.
            return !access.contains(.execute) || kind == .directory || permissions & 0o111 != 0
        }
        let shift: UInt32 = caller.uid == uid ? 6 : (caller.isMember(of: gid) ? 3 : 0)
        return (permissions >> shift) & access.rawValue == access.rawValue
    }

    /// Checks a `setattr` as the kernel's setattr_prepare does and returns the changes to make:
    /// mode only by the owner (a set-group-ID bit dropped unless the owner is in the file's
    /// group), the owner only by root, the group by the owner to one of their groups, times by
    /// the owner (or, set to now, by anyone who may write), the size by anyone who may write.
    public func permit(_ changes: AttributeChanges, timesToNow: Bool, truncates: Bool, by caller: Caller) throws(FSError)
        -> AttributeChanges
    {
        if caller.isRoot { return changes }
        var allowed = changes
        let owner = caller.uid == uid
        if let mode = changes.permissions {
            // A write by someone else makes the kernel drop set-user-ID and set-group-ID with a
            // mode change of its own (FUSE cannot mark it as forced): allowed to whoever may write.
            let dropsPrivileges = mode == permissions & ~0o6000 && allows(.write, to: caller)
            guard owner || dropsPrivileges else { throw .notPermitted }
            if mode & 0o2000 != 0 && !caller.isMember(of: changes.gid ?? gid) {
                allowed.permissions = mode & ~0o2000
            }
        }
        if let newOwner = changes.uid, !(owner && newOwner == uid) { throw .notPermitted }
        if let group = changes.gid, !(owner && (group == gid || caller.isMember(of: group))) { throw .notPermitted }
        if changes.atime != nil || changes.mtime != nil {
            if timesToNow {
                guard owner || allows(.write, to: caller) else { throw .permissionDenied }
            } else {
                guard owner else { throw .notPermitted }
            }
        }
        if truncates, !allows(.write, to: caller) { throw .permissionDenied }
        return allowed
    }
}

extension FileSystem {
    /// Fails with EACCES unless `caller` may `access` `node`. A nil caller is a request the
    /// kernel has checked itself (`default_permissions`), or root's, which passes every check
    /// left to a server (the kernel refuses to execute a file without x bits on its own).
    public func require(_ access: Access, on node: Int64, for caller: Caller?) throws(FSError) {
        guard let caller else { return }
        guard try attributes(of: node).allows(access, to: caller) else { throw .permissionDenied }
    }

    /// A rename changes both directories; a directory that moves to another parent also needs
    /// write permission on itself (its `..` changes), and with `exchange` so does the other name.
    public func requireRename(parent: Int64, name: String, newParent: Int64, newName: String, exchange: Bool,
                              for caller: Caller?) throws(FSError)
    {
        guard let caller else { return }
        try require(.change, on: parent, for: caller)
        guard newParent != parent else { return }
        try require(.change, on: newParent, for: caller)
        let moving = [try lookup(parent: parent, name: name)] + (exchange ? [try lookup(parent: newParent, name: newName)] : [])
        for node in moving where node.kind == .directory && !node.allows(.write, to: caller) { throw .permissionDenied }
    }
}
