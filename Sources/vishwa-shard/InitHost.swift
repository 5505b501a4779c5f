import ArgumentParser
import VishwaCore
import VishwaShardHost
import VishwaTransport

struct InitHost: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: "Create this host's identity and configuration in --dir.")

    @OptionGroup var options: DirOptions

    @Option(name: .long, help: "Address to listen on (default 0.0.0.0:7420).")
    var listen = "0.0.0.0:\(HostConfig.defaultPort)"

    @Option(name: .long, help: "Address devices should use, printed in pairing codes.")
    var advertise: String?

    @Option(name: .long, help: "Disk space never used for shards, e.g. 1G (default 64M).")
    var reserve = "64M"

    func run() async throws {
        try await reportingErrors {
            guard HostAddress(parsing: listen) != nil else { throw ValidationError("--listen must be HOST:PORT") }
            if let advertise, HostAddress(parsing: advertise) == nil { throw ValidationError("--advertise must be HOST:PORT") }
            guard let reserveBytes = ByteCount(parsing: reserve) else { throw ValidationError("cannot read size '\(reserve)'") }
            let pair = try HostIdentity.create(in: options.dir)
            try HostConfig(listen: listen, advertise: advertise, reserveBytes: reserveBytes.bytes).save(to: options.dir)
            print("Created host in \(options.dir)")
            print("  host key: \(Hex.encode(pair.publicKey))")
            print("Next: 'vishwa-shard serve --dir \(options.dir)', then 'vishwa-shard invite --dir \(options.dir)' for each vault.")
        }
    }
}
