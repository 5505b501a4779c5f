import ArgumentParser
import VishwaCore
import VishwaVault

struct Id: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print this device's id and public key (no passphrase needed).")

    @OptionGroup var options: HomeOptions

    @Flag(name: .long, help: "Print one JSON object: device_id, public_key, vault_id.")
    var json = false

    func run() throws {
        try reportingErrors(verbose: options.verbose) {
            let identity = try Vault.identity(in: options.vaultHome)
            if json {
                try printJSON(IdReport(device_id: identity.deviceID, public_key: Hex.encode(identity.devicePublicKey),
                                       vault_id: identity.vaultID.description))
            } else {
                print("device id:  \(identity.deviceID)")
                print("public key: \(Hex.encode(identity.devicePublicKey))")
                print("vault id:   \(identity.vaultID)")
            }
        }
    }
}

struct IdReport: Encodable {
    let device_id: String
    let public_key: String
    let vault_id: String
}
