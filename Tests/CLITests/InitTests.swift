import Foundation
import TestSupport
import Testing

@Suite(.ownThreads) struct InitTests {
    @Test func initPrintsIdentityAndRecoveryCodeOnceAsJSON() throws {
        let scratch = Scratch()
        let home = scratch.path + "/home"
        let pass = scratch.write("pass", "a long passphrase\n")
        let result = try CLI.run(["init", "--home", home, "--passphrase-file", pass, "--kdf", "interactive", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(json(result.stdout))
        let deviceID = try #require(object["device_id"] as? String)
        let publicKey = try #require(object["public_key"] as? String)
        let code = try #require(object["recovery_code"] as? String)
        #expect(deviceID.count == 16 && publicKey.count == 64 && code.count == 58 + 11)

        let id = try CLI.run(["id", "--home", home, "--json"])
        #expect(id.status == 0)
        #expect(json(id.stdout)?["device_id"] as? String == deviceID)
        #expect(json(id.stdout)?["public_key"] as? String == publicKey)
        // The key file never holds the recovery code's key readably: it is wrapped.
        let keyFile = try Data(contentsOf: URL(fileURLWithPath: home + "/vault.key"))
        #expect(keyFile.count == 192)
    }

    @Test func secondInitIsRefusedAndChangesNothing() throws {
        let scratch = Scratch()
        let home = scratch.path + "/home"
        #expect(try CLI.run(["init", "--home", home, "--no-passphrase", "--json"]).status == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: home + "/vault.key"))
        let again = try CLI.run(["init", "--home", home, "--no-passphrase"])
        #expect(again.status == 10)
        #expect(again.stderr.hasPrefix("vishwa: a vault already exists at"))
        #expect(again.stderr.split(separator: "\n").count == 1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: home + "/vault.key")) == before)
    }

    @Test func homeFromTheEnvironmentIsHonoured() throws {
        let scratch = Scratch()
        let home = scratch.path + "/env-home"
        let result = try CLI.run(["init", "--no-passphrase", "--json"], environment: ["VISHWA_HOME": home])
        #expect(result.status == 0)
        #expect(FileManager.default.fileExists(atPath: home + "/vault.key"))
        let attributes = try FileManager.default.attributesOfItem(atPath: home + "/vault.key")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func withoutATerminalOrPassphraseFileInitExplainsWhatToPass() throws {
        let scratch = Scratch()
        let result = try CLI.run(["init", "--home", scratch.path + "/h"])
        #expect(result.status == 16)
        #expect(result.stderr == "vishwa: no terminal to ask for a passphrase: pass --passphrase-file F, or --no-passphrase\n")
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/h/vault.key"))
    }

    @Test func recoveryCodeRestoresTheSameIdentityAndMistypesAreNamed() throws {
        let scratch = Scratch()
        let created = try CLI.run(["init", "--home", scratch.path + "/a", "--no-passphrase", "--json"])
        let object = try #require(json(created.stdout))
        let code = try #require(object["recovery_code"] as? String)

        let restored = try CLI.run(["init", "--home", scratch.path + "/b", "--no-passphrase", "--json",
                                    "--recovery-code", code.lowercased()])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(json(restored.stdout)?["device_id"] as? String == object["device_id"] as? String)
        #expect(json(restored.stdout)?["vault_id"] as? String == object["vault_id"] as? String)

        var typo = Array(code)
        typo[3] = typo[3] == "A" ? "B" : "A"
        let bad = try CLI.run(["init", "--home", scratch.path + "/c", "--no-passphrase", "--recovery-code", String(typo)])
        #expect(bad.status == 14)
        #expect(bad.stderr.contains("invalid recovery code: the checksum does not match"))
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/c/vault.key"))
    }
}

@Suite(.ownThreads) struct KeyFileErrorTests {
    /// Makes a passphrase vault and returns its home and the passphrase file.
    func vault(_ scratch: Scratch) throws -> (home: String, pass: String) {
        let home = scratch.path + "/home"
        let pass = scratch.write("pass", "right one")
        let result = try CLI.run(["init", "--home", home, "--passphrase-file", pass, "--kdf", "interactive", "--json"])
        #expect(result.status == 0)
        return (home, pass)
    }

    @Test func wrongPassphraseTruncatedAndTamperedFilesEachSayWhich() throws {
        let scratch = Scratch()
        let (home, _) = try vault(scratch)
        let wrong = scratch.write("wrong", "wrong one")
        let locked = try CLI.run(["verify-key", "--home", home, "--passphrase-file", wrong])
        #expect(locked.status == 12)
        #expect(locked.stderr == "vishwa: wrong passphrase for \(home)/vault.key\n")

        let keyPath = home + "/vault.key"
        let original = try Data(contentsOf: URL(fileURLWithPath: keyPath))
        try original.prefix(100).write(to: URL(fileURLWithPath: keyPath))
        let truncated = try CLI.run(["id", "--home", home])
        #expect(truncated.status == 13)
        #expect(truncated.stderr.contains("is truncated: 100 bytes, expected 192"))

        var tampered = original
        tampered[30] ^= 0x10
        try tampered.write(to: URL(fileURLWithPath: keyPath))
        let corrupt = try CLI.run(["id", "--home", home])
        #expect(corrupt.status == 13)
        #expect(corrupt.stderr.contains("is corrupt: checksum does not match"))
        #expect(corrupt.stderr.split(separator: "\n").count == 1)
    }

    @Test func missingVaultSaysToRunInit() throws {
        let scratch = Scratch()
        let result = try CLI.run(["id", "--home", scratch.path + "/none"])
        #expect(result.status == 11)
        #expect(result.stderr.contains("run 'vishwa init' first"))
    }
}
