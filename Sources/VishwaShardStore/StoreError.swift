import VishwaCore

/// What can go wrong in the host's shard store. Each description is one line saying what failed
/// and on what; none ever contains shard contents.
public enum StoreError: Error, Equatable, CustomStringConvertible {
    /// No shard with this id in the vault.
    case notFound(ShardID)
    /// The shard's file exists but its header or CRC32C does not match its bytes (bit rot,
    /// truncation or tampering); its bytes are never returned.
    case corrupt(ShardID)
    /// No catalog backup of this generation (nil: none at all) for the vault.
    case backupNotFound(VaultID, generation: UInt64?)
    /// The backup's file exists but its header or CRC32C does not match its bytes.
    case corruptBackup(VaultID, generation: UInt64)
    /// The write would bring the vault's usage to `needed` bytes, over its `quota`; nothing was written.
    case quotaExceeded(VaultID, needed: Int, quota: Int)
    /// The vault already holds `max` shards, the most a vault may; nothing was written.
    case tooManyShards(VaultID, max: Int)
    /// A shard of no bytes: every shard has a header, so an empty one is a client's mistake or an
    /// attempt to fill the disk with files the quota would not see; nothing was written.
    case empty(ShardID)
    /// The write needs `needed` bytes (the file plus the free-space reserve) but only `free` are
    /// available; nothing was written.
    case diskFull(needed: Int, free: Int)
    /// `size` bytes is more than the store accepts for one shard or backup (`max`).
    case tooLarge(size: Int, max: Int)
    /// `range` does not lie within the shard's `size` bytes.
    case badRange(ShardID, Range<Int>, size: Int)
    /// A system call failed: its name, the path it acted on and its errno.
    case io(operation: String, path: String, errno: Int32)

    /// One line: what failed, on which shard, backup, vault or path, and the cause.
    public var description: String {
        switch self {
        case .notFound(let id):
            return "shard \(id) is not stored here"
        case .corrupt(let id):
            return "shard \(id) is corrupt on this host (CRC32C or header mismatch); repair it from other shards"
        case .backupNotFound(let vault, let generation?):
            return "no catalog backup generation \(generation) for vault \(vault)"
        case .backupNotFound(let vault, nil):
            return "no catalog backup for vault \(vault)"
        case .corruptBackup(let vault, let generation):
            return "catalog backup generation \(generation) of vault \(vault) is corrupt (CRC32C or header mismatch)"
        case .quotaExceeded(let vault, let needed, let quota):
            return "vault \(vault) would use \(ByteCount(needed)), over its quota of \(ByteCount(quota)); "
                + "delete data or raise the quota"
        case .tooManyShards(let vault, let max):
            return "vault \(vault) already holds \(max) shards, the most this host allows a vault; delete data first"
        case .empty(let id):
            return "shard \(id) is empty; a shard has at least its header"
        case .diskFull(let needed, let free):
            return "disk full: the write needs \(ByteCount(needed)) (file plus free-space reserve) "
                + "but \(ByteCount(free)) is free"
        case .tooLarge(let size, let max):
            return "\(ByteCount(size)) (\(size) bytes) is over the limit of \(ByteCount(max)) per file"
        case .badRange(let id, let range, let size):
            return "range \(range.lowerBound)..<\(range.upperBound) is outside shard \(id) of \(size) bytes"
        case .io(let operation, let path, let errno):
            return "\(operation) \(path) failed: \(Sys.describe(errno: errno))"
        }
    }
}
