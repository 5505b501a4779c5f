import VishwaCrypto
import VishwaVault

/// Each file's own random key, stored in the catalog only wrapped by the vault (docs/format.md §1.1):
/// XChaCha20-Poly1305 under the file-key-wrapping subkey, the file id as associated data.
///
///     wrapped = nonce (24) ‖ ciphertext of the key (32) ‖ tag (16)
public enum FileKeys {
    public static let wrappedLength = 24 + 32 + 16

    public static func newKey() -> SecretBytes { SecretBytes.random(count: 32) }

    public static func wrap(_ key: SecretBytes, fileID: [UInt8], vault: Vault) -> [UInt8] {
        let nonce = Random.bytes(XChaCha20Poly1305.nonceLength)
        var plain = key.exposedCopy()
        defer { Memory.wipe(&plain) }
        return nonce + XChaCha20Poly1305.seal(plain, nonce: nonce, additionalData: fileID, key: vault.fileKeyWrappingKey)
    }

    /// Throws `ClientError.corruptCatalog` when the wrapped key does not open: it was altered, or
    /// belongs to another file or vault.
    public static func unwrap(_ wrapped: [UInt8], fileID: [UInt8], vault: Vault) throws(ClientError) -> SecretBytes {
        guard wrapped.count == wrappedLength else { throw .corruptCatalog("wrapped key of \(wrapped.count) bytes") }
        do {
            return try XChaCha20Poly1305.open(Array(wrapped[24...]), nonce: Array(wrapped[0..<24]), additionalData: fileID,
                                              key: vault.fileKeyWrappingKey)
        } catch {
            throw .corruptCatalog("a file key does not open with this vault's key (altered catalog?)")
        }
    }
}
