import Foundation
import TestSupport
import Testing
import VishwaCrypto
@testable import VishwaVault

/// A fresh directory under the system temp dir, removed when the test ends.
final class TempDirectory {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "vishwa-vault-test-" + UUID().uuidString
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    var home: VaultHome { VaultHome(path: path + "/home") }
}

let fastPassphrase = KeyProtection.passphrase(Array("correct horse".utf8), cost: .interactive)

@Suite(.ownThreads) struct VaultTests {
    @Test func createsAndReopensAPassphraseVault() throws {
        let dir = TempDirectory()
        let vault = try Vault.create(in: dir.home, protection: fastPassphrase)
        let attributes = try FileManager.default.attributesOfItem(atPath: dir.home.keyFile)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try Vault.identity(in: dir.home) == vault.identity)
        let reopened = try Vault.open(in: dir.home, passphrase: Array("correct horse".utf8))
        #expect(reopened.masterKey.isEqual(to: vault.masterKey))
        #expect(vault.identity.deviceID.count == 16)
        #expect(vault.deviceKeyPair.publicKey == vault.identity.devicePublicKey)
    }

    @Test func keyFileNeverHoldsTheMasterKeyInTheClearWhenProtected() throws {
        let dir = TempDirectory()
        let vault = try Vault.create(in: dir.home, protection: fastPassphrase)
        let bytes = [UInt8](FileManager.default.contents(atPath: dir.home.keyFile)!)
        let key = vault.masterKey.exposedCopy()
        #expect(!bytes.indices.dropLast(31).contains { Array(bytes[$0..<$0 + 32]) == key })
    }

    @Test func wrongPassphraseIsNamedAsSuch() throws {
        let dir = TempDirectory()
        try Vault.create(in: dir.home, protection: fastPassphrase)
        #expect(throws: VaultError.wrongPassphrase(path: dir.home.keyFile)) {
            try Vault.open(in: dir.home, passphrase: Array("wrong".utf8))
        }
        #expect(throws: VaultError.passphraseRequired(path: dir.home.keyFile)) {
            try Vault.open(in: dir.home, passphrase: nil)
        }
    }

    @Test func refusesToOverwriteAnExistingVault() throws {
        let dir = TempDirectory()
        let first = try Vault.create(in: dir.home, protection: .none)
        #expect(throws: VaultError.alreadyExists(path: dir.home.keyFile)) {
            try Vault.create(in: dir.home, protection: .none)
        }
        #expect(try Vault.open(in: dir.home, passphrase: nil).masterKey.isEqual(to: first.masterKey))
    }

    @Test(arguments: [true, false])
    func truncatedKeyFileIsNamedAsSuch(protected: Bool) throws {
        let dir = TempDirectory()
        try Vault.create(in: dir.home, protection: protected ? fastPassphrase : .none)
        let bytes = FileManager.default.contents(atPath: dir.home.keyFile)!
        for cut in [0, 7, 40, bytes.count - 1] {
            try Data(bytes.prefix(cut)).write(to: URL(fileURLWithPath: dir.home.keyFile))
            // Under 8 bytes the protection byte is gone too: the smallest valid size is expected.
            let expected = cut < 8 ? VaultKeyFile.plainLength : bytes.count
            #expect(throws: VaultError.truncated(path: dir.home.keyFile, size: cut, expected: expected)) {
                try Vault.open(in: dir.home, passphrase: Array("correct horse".utf8))
            }
        }
    }

    @Test(arguments: [true, false])
    func tamperedKeyFileIsNamedAsCorrupt(protected: Bool) throws {
        let dir = TempDirectory()
        try Vault.create(in: dir.home, protection: protected ? fastPassphrase : .none)
        let original = [UInt8](FileManager.default.contents(atPath: dir.home.keyFile)!)
        for position in [0, 4, 5, 9, 30, 60, original.count - 40, original.count - 1] {
            var bytes = original
            bytes[position] ^= 0x04
            try Data(bytes).write(to: URL(fileURLWithPath: dir.home.keyFile))
            let result = Result { () throws(VaultError) in try Vault.open(in: dir.home, passphrase: Array("correct horse".utf8)) }
            switch result {
            case .success: Issue.record("tampering at byte \(position) went unnoticed")
            case .failure(.corrupt): break
            case .failure(let error): Issue.record("tampering at byte \(position) reported as \(error)")
            }
        }
    }

    @Test func missingVaultSaysToRunInit() {
        let dir = TempDirectory()
        #expect(throws: VaultError.missing(path: dir.home.keyFile)) { try Vault.identity(in: dir.home) }
    }

    @Test func recoveryCodeRoundTripsAndRestoresTheSameIdentity() throws {
        let dir = TempDirectory()
        let vault = try Vault.create(in: dir.home, protection: .none)
        let code = RecoveryCode.encode(vault.masterKey)
        #expect(code.filter { $0 != "-" }.count == RecoveryCode.characterCount)
        let restored = try RecoveryCode.decode(code.lowercased().replacingOccurrences(of: "-", with: " "))
        #expect(restored.isEqual(to: vault.masterKey))
        let other = TempDirectory()
        let again = try Vault.create(in: other.home, protection: fastPassphrase, masterKey: restored)
        #expect(again.identity.vaultID == vault.identity.vaultID)
        #expect(again.identity.devicePublicKey == vault.identity.devicePublicKey)
    }

    @Test func mistypedRecoveryCodesAreCaught() throws {
        let code = RecoveryCode.encode(SecretBytes.random(count: 32))
        let chars = Array(code)
        // Every single-character substitution is detected by the checksum.
        for i in chars.indices where chars[i] != "-" {
            var typo = chars
            typo[i] = chars[i] == "7" ? "8" : "7"
            #expect(throws: VaultError.self) { try RecoveryCode.decode(String(typo)) }
        }
        #expect(throws: VaultError.invalidRecoveryCode("it has 57 characters, expected 58")) {
            try RecoveryCode.decode(String(code.dropLast()))
        }
        var withU = chars
        withU[0] = "U"
        #expect(throws: VaultError.invalidRecoveryCode("character 'U' at position 1 is not used in recovery codes")) {
            try RecoveryCode.decode(String(withU))
        }
    }

    @Test func aRecoveryCodePastedWithWindowsLineEndingsDecodes() throws {
        let key = SecretBytes.random(count: 32)
        let code = RecoveryCode.encode(key)
        let restored = try RecoveryCode.decode(code.replacingOccurrences(of: "-", with: "\r\n") + "\r\n")
        #expect(restored.isEqual(to: key))
    }

    @Test(arguments: [6, 7])
    func reservedKeyFileBytesMustBeZero(position: Int) throws {
        let dir = TempDirectory()
        try Vault.create(in: dir.home, protection: .none)
        var bytes = [UInt8](FileManager.default.contents(atPath: dir.home.keyFile)!)
        bytes[position] = 1
        // The checksum is not keyed: whoever alters the file can make it match again.
        bytes.replaceSubrange((bytes.count - 32)..., with: BLAKE2b.hash(Array(bytes[..<(bytes.count - 32)]), length: 32))
        try Data(bytes).write(to: URL(fileURLWithPath: dir.home.keyFile))
        #expect(throws: VaultError.corrupt(path: dir.home.keyFile, reason: "reserved bytes 6..<8 are not zero")) {
            try Vault.open(in: dir.home, passphrase: nil)
        }
    }
}
