import ArgumentParser
import Foundation
import Logging
import VishwaShardHost

#if canImport(Glibc)
import Glibc
#endif

struct DirOptions: ParsableArguments {
    @Option(name: .long, help: "The host's directory (identity, configuration, shards).")
    var dir: String
}

/// One line on standard error, prefixed with the program name.
func printError(_ message: String) {
    FileHandle.standardError.write(Data(("vishwa-shard: " + message + "\n").utf8))
}

/// Runs a command body; any error becomes one line on standard error and exit status 1.
func reportingErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        printError(String(describing: error))
        throw ExitCode.failure
    }
}

func makeLogger(level: Logger.Level) -> Logger {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
    return Logger(label: "vishwa-shard")
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
