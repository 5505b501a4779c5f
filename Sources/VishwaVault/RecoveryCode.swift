import VishwaCore
import VishwaCrypto

/// The master key in a form a person can write down and type back: Crockford base32 of the
/// 32-byte key followed by a 4-byte BLAKE2b checksum, in dash-separated groups of five
/// (docs/format.md §1.2). Case, spaces and dashes do not matter; O reads as 0, I and L as 1.
public enum RecoveryCode {
    static let checksumLength = 4
    static let keyLength = 32
    /// 36 bytes = 288 bits = 58 base32 characters (the last carries 3 bits of data and 2 zero bits).
    public static let characterCount = Base32.length(forBytes: keyLength + checksumLength)

    /// Encodes a 32-byte master key.
    public static func encode(_ masterKey: SecretBytes) -> String {
        var bytes = masterKey.exposedCopy()
        defer { Memory.wipe(&bytes) }
        let chars = Array(Base32.encode(bytes + checksum(bytes)))
        return stride(from: 0, to: chars.count, by: 5)
            .map { String(chars[$0..<min($0 + 5, chars.count)]) }
            .joined(separator: "-")
    }

    /// Decodes a typed recovery code back to the master key; throws a message saying what is wrong.
    public static func decode(_ text: String) throws(VaultError) -> SecretBytes {
        let significant = text.unicodeScalars.filter { !"- \n\t\r".unicodeScalars.contains($0) }.count
        var bytes: [UInt8]
        do {
            bytes = try Base32.decode(text)
        } catch .invalidCharacter(let character, let position) {
            throw .invalidRecoveryCode("character '\(character)' at position \(position) is not used in recovery codes")
        } catch {
            guard significant == characterCount else {
                throw .invalidRecoveryCode("it has \(significant) characters, expected \(characterCount)")
            }
            throw .invalidRecoveryCode("the checksum does not match, so a character is mistyped; check each group")
        }
        defer { Memory.wipe(&bytes) }
        guard significant == characterCount else {
            throw .invalidRecoveryCode("it has \(significant) characters, expected \(characterCount)")
        }
        let key = Array(bytes[0..<keyLength])
        guard Array(bytes[keyLength..<keyLength + checksumLength]) == checksum(key) else {
            throw .invalidRecoveryCode("the checksum does not match, so a character is mistyped; check each group")
        }
        return SecretBytes(copying: key)
    }

    private static func checksum(_ key: [UInt8]) -> [UInt8] {
        Array(BLAKE2b.hash(key, length: 32, key: Array("vishwa recovery".utf8)).prefix(checksumLength))
    }
}
