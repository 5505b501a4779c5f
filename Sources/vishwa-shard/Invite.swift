import ArgumentParser
import Foundation
import VishwaCore
import VishwaShardHost
import VishwaTransport

struct Invite: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a one-time pairing code for 'vishwa host add'.",
        discussion: "The code holds this host's address and key and a secret; it works once, until it expires.")

    @OptionGroup var options: DirOptions

    @Option(name: .long, help: "Most bytes the paired vault may store here, e.g. 50G (default: no quota).")
    var quota: String?

    @Option(name: .long, help: "Address the device should connect to (default: from the configuration).")
    var address: String?

    @Option(name: .long, help: "How long the code stays valid: a number with s, m, h or d (default 24h).")
    var valid = "24h"

    func run() async throws {
        try await reportingErrors {
            let key = try HostIdentity.load(from: options.dir)
            let config = try HostConfig.load(from: options.dir)
            var quotaBytes: Int? = config.defaultQuotaBytes
            if let quota {
                guard let parsed = ByteCount(parsing: quota), parsed.bytes > 0 else {
                    throw ValidationError("cannot read quota '\(quota)': use a size such as 50G")
                }
                quotaBytes = parsed.bytes
            }
            guard let seconds = Self.seconds(valid), seconds >= 1 else {
                throw ValidationError("cannot read --valid '\(valid)': use e.g. 30m, 24h or 7d")
            }
            let target = address ?? config.advertise ?? Self.advertised(listen: config.listen)
            guard let hostAddress = HostAddress(parsing: target) else {
                throw ValidationError("'\(target)' is not HOST:PORT; pass --address")
            }
            let secret = try PairingRegistry(dir: options.dir).createInvite(quotaBytes: quotaBytes, validFor: seconds)
            print(PairingCode(address: hostAddress, hostKey: key.publicKey, secret: secret))
        }
    }

    /// Parses `90s`, `30m`, `24h`, `7d` (a bare number is seconds).
    static func seconds(_ text: String) -> Int? {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        guard let last = text.last else { return nil }
        if let unit = units[last] { return Int(text.dropLast()).map { $0 * unit } }
        return Int(text)
    }

    /// The listen address, with a wildcard host replaced by this machine's name.
    static func advertised(listen: String) -> String {
        guard let address = HostAddress(parsing: listen) else { return listen }
        if address.host == "0.0.0.0" || address.host == "::" {
            return HostAddress(host: ProcessInfo.processInfo.hostName, port: address.port).description
        }
        return listen
    }
}
