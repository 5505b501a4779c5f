import ArgumentParser
import VishwaVault

struct VerifyKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-key",
        abstract: "Check that the key file is intact and that the passphrase opens it.")

    @OptionGroup var options: HomeOptions

    @Option(name: .long, help: "Read the passphrase from the first line of this file.")
    var passphraseFile: String?

    func run() throws {
        try reportingErrors(verbose: options.verbose) {
            let home = options.vaultHome
            let vault = try Vault.open(in: home, passphrase: try Passphrase.forUnlocking(file: passphraseFile))
            let how = vault.identity.isPassphraseProtected ? "the passphrase opens it" : "it is not passphrase-protected"
            print("\(home.keyFile): intact, \(how); vault \(vault.identity.vaultID), device \(vault.identity.deviceID)")
        }
    }
}
