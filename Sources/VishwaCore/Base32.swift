/// Crockford base32: digits and capitals without I, L, O and U, so codes survive being read aloud
/// and typed. Decoding ignores case, dashes and spaces, and reads O as 0 and I/L as 1.
public enum Base32 {
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    /// Characters needed for `byteCount` bytes.
    public static func length(forBytes byteCount: Int) -> Int { (byteCount * 8 + 4) / 5 }

    public static func encode(_ bytes: [UInt8]) -> String {
        var chars: [UInt8] = []
        chars.reserveCapacity(length(forBytes: bytes.count))
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = buffer << 8 | UInt32(byte)
            bits += 8
            while bits >= 5 {
                chars.append(alphabet[Int(buffer >> UInt32(bits - 5) & 31)])
                bits -= 5
            }
        }
        if bits > 0 { chars.append(alphabet[Int(buffer << UInt32(5 - bits) & 31)]) }
        return String(decoding: chars, as: UTF8.self)
    }

    /// Why a text is not base32.
    public enum DecodeError: Error, Equatable {
        /// The character at `position` (1-based, in the text as given) is not in the alphabet.
        case invalidCharacter(Character, position: Int)
        /// The padding bits at the end are not zero: a character is wrong or missing.
        case badPadding
    }

    /// Decodes to bytes; separators (`-`, spaces, newlines, tabs) are skipped.
    public static func decode(_ text: String) throws(DecodeError) -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        var position = 0
        for character in text {
            position += 1
            // "\r\n" is one Character in Swift: a code pasted with Windows line endings has it.
            if character == "-" || character == " " || character == "\n" || character == "\t" || character == "\r"
                || character == "\r\n" { continue }
            guard let value = value(of: character) else { throw .invalidCharacter(character, position: position) }
            buffer = buffer << 5 | UInt32(value)
            bits += 5
            if bits >= 8 {
                bytes.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits - 8)))
                bits -= 8
            }
        }
        guard buffer & ((1 << UInt32(bits)) - 1) == 0 else { throw .badPadding }
        return bytes
    }

    private static func value(of character: Character) -> UInt8? {
        guard let ascii = character.asciiValue else { return nil }
        var c = ascii
        if c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z") { c -= 32 }
        switch c {
        case UInt8(ascii: "O"): c = UInt8(ascii: "0")
        case UInt8(ascii: "I"), UInt8(ascii: "L"): c = UInt8(ascii: "1")
        default: break
        }
        return alphabet.firstIndex(of: c).map { UInt8($0) }
    }
}
