/// Reads a fuzz input front to back as a script of choices; past its end every read gives zeros.
public struct InputReader {
    private var bytes: [UInt8]
    private var at = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var isEmpty: Bool { at >= bytes.count }

    public mutating func byte() -> UInt8 {
        guard at < bytes.count else { return 0 }
        defer { at += 1 }
        return bytes[at]
    }

    /// A big-endian unsigned number of `count` bytes.
    public mutating func int(bytes count: Int) -> Int {
        (0..<count).reduce(0) { value, _ in value << 8 | Int(byte()) }
    }

    /// Up to `count` bytes (fewer at the end of the input).
    public mutating func bytes(_ count: Int) -> [UInt8] {
        let end = min(bytes.count, at + count)
        defer { at = end }
        return at < end ? Array(bytes[at..<end]) : []
    }

    /// Every byte not read yet.
    public mutating func rest() -> [UInt8] { bytes(bytes.count) }
}
