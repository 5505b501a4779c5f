import ArgumentParser
import VishwaCore
import VishwaCrypto
import VishwaVault

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a vault: a master key, wrapped by your passphrase, and its recovery code.",
        discussion: """
            The recovery code is printed once. Write it down: with it, a new machine can rebuild \
            everything; without it and the key file, your data cannot be recovered by anyone.
            """)

    @OptionGroup var options: HomeOptions

    @Option(name: .long, help: "Read the passphrase from the first line of this file.")
    var passphraseFile: String?

    @Flag(name: .long, help: "Store the master key unwrapped in a 0600 file (unattended mounts, demos).")
    var noPassphrase = false

    @Option(name: .long, help: "Argon2id cost: interactive (64 MiB), moderate (256 MiB, default) or sensitive (1 GiB).")
    var kdf: KDFCost = .moderate

    @Option(name: .long, help: "Restore the vault key from a recovery code instead of making a new one.")
    var recoveryCode: String?

    @Option(name: .long, help: "Read the recovery code to restore from this file.")
    var recoveryCodeFile: String?

    @Flag(name: .long, help: "Print one JSON object: device_id, public_key, recovery_code, vault_id, home.")
    var json = false

    func validate() throws {
        if noPassphrase && passphraseFile != nil {
            throw ValidationError("--no-passphrase and --passphrase-file exclude each other")
        }
        if recoveryCode != nil && recoveryCodeFile != nil {
            throw ValidationError("--recovery-code and --recovery-code-file exclude each other")
        }
    }

    func run() throws {
        try reportingErrors(verbose: options.verbose) {
            let home = options.vaultHome
            // Check before asking for a passphrase twice.
            if (try? Vault.identity(in: home)) != nil { throw VaultError.alreadyExists(path: home.keyFile) }
            let restored = try restoredKey()
            let vault = try Vault.create(in: home, protection: try protection(), masterKey: restored)
            let code = RecoveryCode.encode(vault.masterKey)
            if json {
                try printJSON(InitReport(device_id: vault.identity.deviceID, public_key: Hex.encode(vault.identity.devicePublicKey),
                                         recovery_code: restored == nil ? code : nil,
                                         vault_id: vault.identity.vaultID.description, home: home.path))
            } else {
                printSummary(vault, home: home, recoveryCode: restored == nil ? code : nil)
            }
        }
    }

    private func restoredKey() throws -> SecretBytes? {
        if let recoveryCode { return try RecoveryCode.decode(recoveryCode) }
        if let recoveryCodeFile {
            return try RecoveryCode.decode(String(decoding: try Passphrase.fromFile(recoveryCodeFile), as: UTF8.self))
        }
        return nil
    }

    private func protection() throws -> KeyProtection {
        if noPassphrase { return .none }
        if let passphraseFile { return .passphrase(try Passphrase.fromFile(passphraseFile), cost: kdf.cost) }
        guard Passphrase.canPrompt, let first = Passphrase.prompt("New passphrase: ") else {
            throw InputError("no terminal to ask for a passphrase: pass --passphrase-file F, or --no-passphrase")
        }
        guard !first.isEmpty else { throw VaultError.emptyPassphrase }
        guard Passphrase.prompt("Repeat passphrase: ") == first else { throw VaultError.passphraseMismatch }
        return .passphrase(first, cost: kdf.cost)
    }

    private func printSummary(_ vault: Vault, home: VaultHome, recoveryCode: String?) {
        let protection = vault.identity.isPassphraseProtected
            ? "protected by your passphrase"
            : "NOT protected by a passphrase: anyone who can read this file can read your data"
        print("\(recoveryCode == nil ? "Restored" : "Created") vault \(vault.identity.vaultID) in \(home.path)")
        print("  device id:  \(vault.identity.deviceID)")
        print("  public key: \(Hex.encode(vault.identity.devicePublicKey))")
        print("  key file:   \(home.keyFile) (\(protection))")
        if let recoveryCode {
            print("")
            print("Recovery code. Write it down now: it is shown only this once, and it is the only way")
            print("to get your files back if this machine and its key file are lost.")
            print("")
            print("    \(recoveryCode)")
            print("")
        }
    }
}

struct InitReport: Encodable {
    let device_id: String
    let public_key: String
    let recovery_code: String?
    let vault_id: String
    let home: String
}

enum KDFCost: String, ExpressibleByArgument, CaseIterable {
    case interactive, moderate, sensitive

    var cost: Argon2id.Cost {
        switch self {
        case .interactive: return .interactive
        case .moderate: return .moderate
        case .sensitive: return .sensitive
        }
    }
}
