import VishwaCore

/// Where everything lives under the store directory (docs/format.md §3.1):
///
///     <root>/vaults/<vault hex>/<first 2 hex of id>/<id hex>    one shard
///     <root>/backups/<vault hex>/<generation, 20 decimal digits> one catalog backup
///     .tmp-<16 hex> in the same directory                        a write in progress
///
/// Every component is built from a typed id or number, never from client text.
struct StoreLayout: Sendable {
    let root: String
    let vaults: String
    let backups: String

    static let tempPrefix = ".tmp-"

    init(root: String) {
        var root = root
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        self.root = root
        vaults = root + "/vaults"
        backups = root + "/backups"
    }

    func vaultDirectory(_ vault: VaultID) -> String { vaults + "/" + vault.description }

    func shardDirectory(_ vault: VaultID, _ id: ShardID) -> String { vaultDirectory(vault) + "/" + id.prefix }

    func shardPath(_ vault: VaultID, _ id: ShardID) -> String { shardDirectory(vault, id) + "/" + id.description }

    func backupDirectory(_ vault: VaultID) -> String { backups + "/" + vault.description }

    func backupPath(_ vault: VaultID, _ generation: UInt64) -> String {
        backupDirectory(vault) + "/" + Self.backupName(generation)
    }

    /// The generation as 20 decimal digits, zero-padded (UInt64.max has 20), so names sort like numbers.
    static func backupName(_ generation: UInt64) -> String {
        let digits = String(generation)
        return String(repeating: "0", count: 20 - digits.count) + digits
    }

    /// The generation a backup file name spells; nil unless it is exactly 20 decimal digits.
    static func generation(fromName name: String) -> UInt64? {
        guard name.utf8.count == 20, name.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        return UInt64(name)
    }

    /// The vault a directory name spells; nil unless it is exactly 32 lowercase hex digits.
    static func vault(fromName name: String) -> VaultID? {
        guard isLowercaseHex(name, digits: 32) else { return nil }
        return VaultID(hex: name)
    }

    /// True when `name` is exactly 2 lowercase hex digits (a shard subdirectory).
    static func isPrefixName(_ name: String) -> Bool { isLowercaseHex(name, digits: 2) }

    static func isLowercaseHex(_ text: String, digits: Int) -> Bool {
        text.utf8.count == digits && text.utf8.allSatisfy { c in
            (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f"))
        }
    }

    /// A fresh temp file name: `.tmp-` and 16 random hex digits, unique among concurrent writers.
    static func tempName() -> String {
        var generator = SystemRandomNumberGenerator()
        let bits = generator.next() as UInt64
        let hex = String(bits, radix: 16)
        return tempPrefix + String(repeating: "0", count: 16 - hex.count) + hex
    }
}
