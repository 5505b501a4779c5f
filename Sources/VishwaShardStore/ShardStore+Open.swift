import VishwaCore

#if canImport(Glibc)
import Glibc
#endif

/// What a store directory holds, as counted by `ShardStore.survey(directory:)`.
public struct StoreSurvey: Sendable, Hashable {
    /// Usage of every vault with anything stored.
    public var usage: [VaultID: VaultUsage]
    /// Size of the file system holding the store.
    public var totalBytes: Int
    /// Bytes free on that file system for unprivileged users.
    public var freeBytes: Int
    /// `.tmp-` files found: writes in progress, or interrupted ones the next open will remove.
    public var temporaryFiles: Int
}

// Opening the store: create its directories, clean up interrupted writes, count what is stored.
extension ShardStore {
    /// Counts what the store in `directory` holds without opening it: creates nothing, removes
    /// nothing, so it is safe while a daemon has the store open (for `vishwa-shard status`).
    /// A store directory that does not exist yet surveys as empty, with the space of the file
    /// system it would be created on. Blocks for one walk of the store.
    ///
    /// Blocking (disk I/O); thread-safe: call it from any thread, concurrently with any other call.
    ///
    /// - Throws: `.io` when a directory cannot be listed or statvfs fails.
    public static func survey(directory: String) throws(StoreError) -> StoreSurvey {
        let layout = StoreLayout(root: directory)
        let scan = try scan(layout, removingTemporaries: false)
        var existing = layout.root
        while true {
            do {
                let space = try Sys.fileSystemSpace(existing)
                return StoreSurvey(usage: scan.usage, totalBytes: space.total, freeBytes: space.available,
                                   temporaryFiles: scan.temporaries)
            } catch .io(_, _, ENOENT) where existing != "/" && existing != "." {
                existing = parent(of: existing)
            }
        }
    }

    /// What the opening walk found.
    struct Scan {
        var usage: [VaultID: VaultUsage] = [:]
        /// `.tmp-` files found (and removed, when the scan removes them).
        var temporaries = 0
        var unrecognized = 0
    }

    /// Creates the store directory (and missing parents) and its `vaults` and `backups`
    /// subdirectories with mode 0700, fsyncing the parent of each one created.
    static func createRoot(_ layout: StoreLayout) throws(StoreError) {
        var chain: [String] = []
        var path = layout.root
        while !path.isEmpty && path != "/" && path != "." {
            chain.append(path)
            path = parent(of: path)
        }
        for directory in chain.reversed() + [layout.vaults, layout.backups] {
            if try Sys.mkdir(directory, mode: 0o700) {
                try Sys.syncDirectory(parent(of: directory))
            }
        }
    }

    /// Walks `vaults/` and `backups/` once, adding up the files the store wrote. When
    /// `removingTemporaries`, removes every `.tmp-` file: only at open, when no write is in
    /// progress, so each is a write interrupted before its rename, never acknowledged.
    static func scan(_ layout: StoreLayout, removingTemporaries: Bool) throws(StoreError) -> Scan {
        var scan = Scan()
        try walk(layout.vaults, relative: ["vaults"], removingTemporaries: removingTemporaries, into: &scan)
        try walk(layout.backups, relative: ["backups"], removingTemporaries: removingTemporaries, into: &scan)
        return scan
    }

    private static func walk(
        _ directory: String, relative: [String], removingTemporaries: Bool, into scan: inout Scan
    ) throws(StoreError) {
        guard let entries = try Sys.listDirectory(directory) else { return }
        for entry in entries {
            let path = directory + "/" + entry.name
            let components = relative + [entry.name]
            switch entry.kind {
            case .directory where components.count < 4:
                try walk(path, relative: components, removingTemporaries: removingTemporaries, into: &scan)
            case .file where entry.name.hasPrefix(StoreLayout.tempPrefix):
                if removingTemporaries {
                    if try Sys.unlink(path) { scan.temporaries += 1 }
                } else {
                    scan.temporaries += 1
                }
            case .file:
                guard let kind = classify(components), let size = try Sys.regularFileSize(path) else {
                    scan.unrecognized += 1
                    continue
                }
                scan.usage[kind.vault, default: VaultUsage()].add(kind.kind, bytes: charge(fileSize: size), replacing: nil)
            case .directory, .other:
                scan.unrecognized += 1
            }
        }
    }

    /// Which vault and kind a file at `components` (relative to the store) belongs to; nil for a
    /// name the store would not have written.
    private static func classify(_ components: [String]) -> (vault: VaultID, kind: FileKind)? {
        switch components.count {
        case 4 where components[0] == "vaults":
            guard let vault = StoreLayout.vault(fromName: components[1]), StoreLayout.isPrefixName(components[2]),
                  let id = ShardID(hex: components[3]), id.prefix == components[2]
            else { return nil }
            return (vault, .shard)
        case 3 where components[0] == "backups":
            guard let vault = StoreLayout.vault(fromName: components[1]),
                  StoreLayout.generation(fromName: components[2]) != nil
            else { return nil }
            return (vault, .backup)
        default:
            return nil
        }
    }
}
