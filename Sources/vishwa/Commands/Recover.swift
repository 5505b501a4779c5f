import ArgumentParser
import Foundation
import Logging
import VishwaClient
import VishwaCore
import VishwaTransport
import VishwaVault

struct Recover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rebuild this vault on a new machine from the recovery code and one host.",
        discussion: """
            Asks for the recovery code without echo (or reads it from --recovery-code-file), asks \
            the given host and every host its backup names for their catalog backups, and restores \
            the newest one that opens with the code and that any k shards rebuild. Writes the key \
            file and the catalog, after which every file downloads again.
            """)

    @OptionGroup var home: HomeOptions

    @Option(name: .long, help: "Read the recovery code printed by 'vishwa init' from this file (default: ask for it).")
    var recoveryCodeFile: String?

    @Option(name: .long, help: ArgumentHelp(
        "The recovery code itself: visible to every user through 'ps' and kept in shell history. "
            + "Prefer the prompt or --recovery-code-file.", valueName: "code"))
    var insecureRecoveryCode: String?

    @Option(name: .long, help: "One host that held this vault (HOST:PORT).")
    var host: String

    @Option(name: .long, help: "That host's public key (hex, as 'vishwa-shard status' prints it).")
    var hostKey: String

    @Option(name: .long, help: "Protect the new key file with the passphrase in this file.")
    var passphraseFile: String?

    @Flag(name: .long, help: "Store the key unwrapped in a 0600 file.")
    var noPassphrase = false

    func validate() throws {
        if recoveryCodeFile != nil && insecureRecoveryCode != nil {
            throw ValidationError("give the recovery code once: --recovery-code-file or --insecure-recovery-code")
        }
        if recoveryCodeFile == nil && insecureRecoveryCode == nil && !Passphrase.canPrompt {
            throw ValidationError("no terminal to ask for the recovery code: give --recovery-code-file F")
        }
        if noPassphrase == (passphraseFile != nil) && !Passphrase.canPrompt {
            throw ValidationError("give --passphrase-file F or --no-passphrase for the new key file")
        }
    }

    /// The recovery code: from the file, the prompt, or (warned about) the command line.
    func recoveryCodeText() throws -> String {
        if let recoveryCodeFile {
            guard let data = FileManager.default.contents(atPath: recoveryCodeFile) else {
                throw InputError("cannot read recovery code file \(recoveryCodeFile)")
            }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let insecureRecoveryCode {
            printError("warning: a recovery code on the command line is visible to 'ps' and kept in shell history; "
                       + "prefer the prompt or --recovery-code-file")
            return insecureRecoveryCode
        }
        guard let typed = Passphrase.prompt("Recovery code: ") else { throw InputError("no terminal to ask for the recovery code") }
        return String(decoding: typed, as: UTF8.self)
    }

    func run() async throws {
        try await reportingErrorsAsync(verbose: home.verbose) {
            guard let address = HostAddress(parsing: host) else { throw InputError("--host '\(host)' is not HOST:PORT") }
            guard let key = Hex.decode(hostKey), key.count == 32 else {
                throw InputError("--host-key must be 64 hex digits (the host's public key)")
            }
            let text = try recoveryCodeText()
            let masterKey = try RecoveryCode.decode(text)
            let protection: KeyProtection
            if noPassphrase {
                protection = .none
            } else if let passphraseFile {
                protection = .passphrase(try Passphrase.fromFile(passphraseFile), cost: .moderate)
            } else {
                guard let first = Passphrase.prompt("New passphrase: "), !first.isEmpty else { throw VaultError.emptyPassphrase }
                guard Passphrase.prompt("Repeat passphrase: ") == first else { throw VaultError.passphraseMismatch }
                protection = .passphrase(first, cost: .moderate)
            }
            var logger = Logger(label: "vishwa")
            logger.logLevel = home.verbose ? .info : .warning
            let result = try await Recovery.recover(masterKey: masterKey, host: address, hostKey: key, home: home.vaultHome,
                                                    protection: protection, logger: logger)
            print("recovered vault \(result.vaultID) into \(home.vaultHome.path): \(result.files) files, \(result.hosts) hosts "
                  + "(catalog backup generation \(result.generation))")
        }
    }
}

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Store an encrypted backup of the catalog on the hosts now (done after every change anyway).")

    @OptionGroup var options: UnlockOptions

    @Option(name: .long, help: ArgumentHelp("Bytes of catalog per backup chunk (for tests of many-chunk backups).",
                                            visibility: .hidden))
    var chunkSize: Int?

    func run() async throws {
        try await reportingErrorsAsync(verbose: options.home.verbose) {
            let parameters = try chunkSize.map { (size) throws(ParameterError) in
                try CodingParameters(k: CodingParameters.default.k, m: CodingParameters.default.m, chunkSize: size)
            } ?? .default
            let generation = try await withSession(options) { try await CatalogBackup.backup($0, parameters: parameters) }
            if let generation {
                print("catalog backup generation \(generation) stored")
            } else {
                throw ClientError.tooFewHosts("catalog backup not stored: at least 2 hosts must be online")
            }
        }
    }
}

/// Backs the catalog up after a change; a failure is a warning, never a failed command.
func backupAfterChange(_ session: VaultSession) async {
    do {
        if try await CatalogBackup.backup(session) == nil {
            printError("warning: catalog backup skipped (fewer than 2 hosts online); it will be retried on the next change")
        }
    } catch {
        printError("warning: catalog backup failed: \(error)")
    }
}
