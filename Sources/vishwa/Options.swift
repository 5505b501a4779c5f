import ArgumentParser
import Foundation
import VishwaVault

/// Options every command that touches the vault shares.
struct HomeOptions: ParsableArguments {
    @Option(name: .long, help: "The vault folder (default: $VISHWA_HOME, else ~/.local/share/vishwa).")
    var home: String?

    @Flag(name: .long, help: "Show the cause chain of errors.")
    var verbose = false

    var vaultHome: VaultHome {
        VaultHome.resolve(home, environment: ProcessInfo.processInfo.environment)
    }
}

/// Prints `value` as one line of JSON with sorted keys (stable for scripts).
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
