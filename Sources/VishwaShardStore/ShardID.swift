import VishwaCore

/// Names one shard on a host: 16 bytes chosen by the client, opaque to the host.
///
/// Its text form, which is also its file name in the store, is exactly 32 lowercase hex digits.
/// `init?(hex:)` accepts nothing else, so no id can ever spell `..`, `/` or any other path
/// component the store did not choose. Ordering is by bytes, which is also the order of the text.
public struct ShardID: Hashable, Sendable, Comparable, CustomStringConvertible {
    private let value: Identifier128

    /// Builds an id from exactly 16 bytes; nil for any other count.
    ///
    /// Blocking (disk I/O); thread-safe: call it from any thread, concurrently with any other call.
    public init?(bytes: some Collection<UInt8>) {
        guard let value = Identifier128(bytes: bytes) else { return nil }
        self.value = value
    }

    /// Parses exactly 32 lowercase hex digits (`0-9a-f`); nil for anything else, including
    /// uppercase digits, separators, `.` or `/`, and any other length.
    ///
    /// Blocking (disk I/O); thread-safe: call it from any thread, concurrently with any other call.
    public init?(hex: String) {
        guard StoreLayout.isLowercaseHex(hex, digits: 32), let value = Identifier128(hex: hex) else { return nil }
        self.value = value
    }

    /// The 16 bytes, in the order the client chose them.
    public var bytes: [UInt8] { value.bytes }

    /// The 32 lowercase hex digits; also the shard's file name.
    public var description: String { value.description }

    /// The first byte as 2 lowercase hex digits: the name of the subdirectory holding the shard.
    var prefix: String { String(description.prefix(2)) }

    /// Byte order (equal to the order of the hex text), the order `list` pages in.
    public static func < (a: ShardID, b: ShardID) -> Bool { a.value < b.value }
}
