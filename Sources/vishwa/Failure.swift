import ArgumentParser
import VishwaCore
import VishwaCatalog
import VishwaClient
import VishwaTransport
import VishwaVault

#if canImport(Glibc)
import Glibc
#endif

/// Prints `message` to standard error as one line prefixed with the program name.
func printError(_ message: String) {
    var line = "vishwa: " + message + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

/// Runs a command body; any error becomes one line on standard error and its stable exit code.
func reportingErrors<T>(verbose: Bool = false, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let exit as ExitCode {
        throw exit
    } catch let error as CleanExit {
        throw error
    } catch {
        printError(String(describing: error))
        if verbose { printError("cause: \(String(reflecting: error))") }
        throw exitCode(for: error)
    }
}

/// The async form of `reportingErrors`.
func reportingErrorsAsync<T>(verbose: Bool = false, _ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let exit as ExitCode {
        throw exit
    } catch let error as CleanExit {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch {
        printError(String(describing: error))
        if verbose { printError("cause: \(String(reflecting: error))") }
        throw exitCode(for: error)
    }
}

func exitCode(for error: any Error) -> ExitCode {
    switch error {
    case let vault as VaultError:
        switch vault {
        case .alreadyExists: return Exit.vaultExists
        case .missing: return Exit.vaultMissing
        case .wrongPassphrase, .passphraseRequired: return Exit.vaultLocked
        case .truncated, .corrupt: return Exit.vaultCorrupt
        case .invalidRecoveryCode: return Exit.badRecoveryCode
        case .io: return Exit.ioError
        case .emptyPassphrase, .passphraseMismatch, .unreadablePassphrase: return Exit.invalidInput
        }
    case is ParameterError, is InputError, is PairingCodeError: return Exit.invalidInput
    case let transport as TransportError:
        switch transport {
        case .refused: return Exit.refused
        default: return Exit.hostUnreachable
        }
    case is CatalogError: return Exit.catalogError
    case let client as ClientError:
        switch client {
        case .notFound, .notAFile, .invalidTag: return Exit.invalidInput
        case .cannotRead, .cannotWrite: return Exit.ioError
        case .noHosts, .tooFewHosts: return Exit.noHosts
        case .uploadFailed, .unreadable: return Exit.dataUnavailable
        case .corruptCatalog: return Exit.catalogError
        }
    default: return Exit.failure
    }
}

/// Bad input handed to the command line (files, sizes), described in one line.
struct InputError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
