import TestSupport
import Testing
@testable import VishwaCatalog
import VishwaFS

private func node(_ permissions: UInt32, uid: UInt32 = 1000, gid: UInt32 = 1000, kind: NodeKind = .file) -> NodeAttributes {
    NodeAttributes(id: 2, kind: kind, permissions: permissions, uid: uid, gid: gid, size: 0, atime: 0, mtime: 0, ctime: 0,
                   nlink: 1, version: 0, fileID: [])
}

private func caller(_ uid: UInt32, _ gid: UInt32 = 1000, groups: [UInt32] = []) -> Caller {
    Caller(uid: uid, gid: gid) { groups }
}

/// The checks the daemon makes on a mount without default_permissions, against what the
/// kernel's generic_permission and setattr_prepare decide.
@Suite(.ownThreads) struct PermissionTests {
    @Test func onlyTheOwnersBitsApplyToTheOwner() {
        let file = node(0o077)  // nothing for the owner, everything for the others
        #expect(!file.allows(.read, to: caller(1000)))
        #expect(!file.allows(.write, to: caller(1000)))
        #expect(file.allows([.read, .write], to: caller(2000, 3000)))
        #expect(node(0o600).allows([.read, .write], to: caller(1000)))
        #expect(!node(0o400).allows([.read, .write], to: caller(1000)))
    }

    @Test func groupBitsApplyToThePrimaryGroupAndSupplementaryGroups() {
        let file = node(0o640, uid: 1, gid: 50)
        #expect(file.allows(.read, to: caller(1000, 50)))
        #expect(!file.allows(.write, to: caller(1000, 50)))
        #expect(file.allows(.read, to: caller(1000, 1000, groups: [7, 50])))
        #expect(!file.allows(.read, to: caller(1000, 1000, groups: [7])))
    }

    @Test func supplementaryGroupsAreAskedOnlyWhenNeeded() {
        let asked = Counter()
        let owner = Caller(uid: 1000, gid: 1000) { asked.add(); return [] }
        _ = node(0o600).allows(.read, to: owner)
        #expect(asked.value == 0)
    }

    @Test func rootPassesAllButExecuteWithoutAnyXBit() {
        let root = caller(0, 0)
        #expect(node(0o000).allows([.read, .write], to: root))
        #expect(!node(0o666).allows(.execute, to: root))
        #expect(node(0o001).allows(.execute, to: root))
        #expect(node(0o000, kind: .directory).allows([.read, .write, .execute], to: root))
    }

    @Test func searchAndChangeOfDirectories() {
        let locked = node(0o555, kind: .directory)
        #expect(locked.allows(.execute, to: caller(1000)))
        #expect(!locked.allows(.change, to: caller(1000)))
        #expect(!node(0o600, kind: .directory).allows(.execute, to: caller(1000)))
    }

    @Test func modeChangesBelongToTheOwner() throws {
        let file = node(0o644, uid: 1000, gid: 50)
        #expect(throws: FSError.notPermitted) {
            try file.permit(AttributeChanges(permissions: 0o600), timesToNow: false, truncates: false, by: caller(2000))
        }
        // The owner outside the file's group loses the set-group-ID bit, as in the kernel.
        let outside = try file.permit(AttributeChanges(permissions: 0o2755), timesToNow: false, truncates: false, by: caller(1000))
        #expect(outside.permissions == 0o755)
        let inside = try file.permit(AttributeChanges(permissions: 0o2755), timesToNow: false, truncates: false,
                                     by: caller(1000, 1000, groups: [50]))
        #expect(inside.permissions == 0o2755)
        #expect(try file.permit(AttributeChanges(permissions: 0o2755), timesToNow: false, truncates: false, by: caller(0, 0))
            .permissions == 0o2755)
        // What the kernel sends when someone else writes a set-user-ID file: only those bits go.
        let setuid = node(0o4766, uid: 1000)
        _ = try setuid.permit(AttributeChanges(permissions: 0o766), timesToNow: false, truncates: false, by: caller(2000, 3000))
        #expect(throws: FSError.notPermitted) {
            try setuid.permit(AttributeChanges(permissions: 0o777), timesToNow: false, truncates: false, by: caller(2000, 3000))
        }
        #expect(throws: FSError.notPermitted) {
            try node(0o4744, uid: 1000).permit(AttributeChanges(permissions: 0o744), timesToNow: false, truncates: false,
                                               by: caller(2000, 3000))
        }
    }

    @Test func ownersAndGroupsChangeByRootOrToTheOwnersOwnGroups() throws {
        let file = node(0o644, uid: 1000, gid: 1000)
        #expect(throws: FSError.notPermitted) {
            try file.permit(AttributeChanges(uid: 0), timesToNow: false, truncates: false, by: caller(1000))
        }
        _ = try file.permit(AttributeChanges(uid: 1000), timesToNow: false, truncates: false, by: caller(1000))
        _ = try file.permit(AttributeChanges(uid: 5), timesToNow: false, truncates: false, by: caller(0, 0))
        _ = try file.permit(AttributeChanges(gid: 60), timesToNow: false, truncates: false, by: caller(1000, 1000, groups: [60]))
        #expect(throws: FSError.notPermitted) {
            try file.permit(AttributeChanges(gid: 61), timesToNow: false, truncates: false, by: caller(1000, 1000, groups: [60]))
        }
        #expect(throws: FSError.notPermitted) {
            try file.permit(AttributeChanges(gid: 60), timesToNow: false, truncates: false, by: caller(2000, 60))
        }
    }

    @Test func timesAndSizes() throws {
        let shared = node(0o666, uid: 1000)
        let other = caller(2000, 3000)
        // Touching needs write permission; a given time needs the owner.
        _ = try shared.permit(AttributeChanges(atime: 1, mtime: 1), timesToNow: true, truncates: false, by: other)
        #expect(throws: FSError.notPermitted) {
            try shared.permit(AttributeChanges(mtime: 1), timesToNow: false, truncates: false, by: other)
        }
        #expect(throws: FSError.permissionDenied) {
            try node(0o644, uid: 1000).permit(AttributeChanges(mtime: 1), timesToNow: true, truncates: false, by: other)
        }
        _ = try node(0o444, uid: 1000).permit(AttributeChanges(mtime: 1), timesToNow: false, truncates: false, by: caller(1000))
        // Truncating by path needs write permission, even for the owner.
        _ = try shared.permit(AttributeChanges(), timesToNow: false, truncates: true, by: other)
        #expect(throws: FSError.permissionDenied) {
            try node(0o444, uid: 1000).permit(AttributeChanges(), timesToNow: false, truncates: true, by: caller(1000))
        }
    }
}

private final class Counter: @unchecked Sendable {
    private(set) var value = 0
    func add() { value += 1 }
}
