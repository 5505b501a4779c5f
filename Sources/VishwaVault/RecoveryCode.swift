import VishwaCrypto

/// The master key in a form a person can write down and type back: Crockford base32 of the
/// 32-byte key followed by a 4-byte BLAKE2b checksum, in dash-separated groups of five
/// (docs/format.md §1.2). Case, spaces and dashes do not matter; O reads as 0, I and L as 1.
public enum RecoveryCode {
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
    static let checksumLength = 4
    static let keyLength = 32
    /// 36 bytes = 288 bits = 58 base32 characters (the last carries 3 bits of data and 2 zero bits).
    public static let characterCount = ((keyLength + checksumLength) * 8 + 4) / 5

    /// Encodes a 32-byte master key.
    public static func encode(_ masterKey: SecretBytes) -> String {
        var bytes = masterKey.exposedCopy()
        defer { Memory.wipe(&bytes) }
        bytes += checksum(bytes)
        var chars: [UInt8] = []
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
        var grouped: [UInt8] = []
        for (i, c) in chars.enumerated() {
            if i > 0 && i % 5 == 0 { grouped.append(UInt8(ascii: "-")) }
            grouped.append(c)
        }
        return String(decoding: grouped, as: UTF8.self)
    }

    /// Decodes a typed recovery code back to the master key; throws a message saying what is wrong.
    public static func decode(_ text: String) throws(VaultError) -> SecretBytes {
        var values: [UInt8] = []
        var position = 0
        for scalar in text.unicodeScalars {
            position += 1
            if scalar == "-" || scalar == " " || scalar == "\n" || scalar == "\t" { continue }
            guard let value = value(of: scalar) else {
                throw .invalidRecoveryCode("character '\(scalar)' at position \(position) is not used in recovery codes")
            }
            values.append(value)
        }
        guard values.count == characterCount else {
            throw .invalidRecoveryCode("it has \(values.count) characters, expected \(characterCount)")
        }
        var bytes: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for v in values {
            buffer = buffer << 5 | UInt32(v)
            bits += 5
            if bits >= 8 {
                bytes.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits - 8)))
                bits -= 8
            }
        }
        defer { Memory.wipe(&bytes) }
        let key = Array(bytes[0..<keyLength])
        guard buffer & ((1 << UInt32(bits)) - 1) == 0,
              Array(bytes[keyLength..<keyLength + checksumLength]) == checksum(key) else {
            throw .invalidRecoveryCode("the checksum does not match, so a character is mistyped; check each group")
        }
        return SecretBytes(copying: key)
    }

    private static func checksum(_ key: [UInt8]) -> [UInt8] {
        Array(BLAKE2b.hash(key, length: 32, key: Array("vishwa recovery".utf8)).prefix(checksumLength))
    }

    private static func value(of scalar: Unicode.Scalar) -> UInt8? {
        guard scalar.isASCII else { return nil }
        var c = UInt8(scalar.value)
        if c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z") { c -= 32 }
        switch c {
        case UInt8(ascii: "O"): c = UInt8(ascii: "0")
        case UInt8(ascii: "I"), UInt8(ascii: "L"): c = UInt8(ascii: "1")
        default: break
        }
        return alphabet.firstIndex(of: c).map { UInt8($0) }
    }
}
