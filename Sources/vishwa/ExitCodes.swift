import ArgumentParser

/// Every exit status `vishwa` uses, in one place. Never reuse or renumber a code: scripts depend on them.
/// (64, usage error, is argument-parser's own.)
enum Exit {
    static let success = ExitCode(0)
    /// Anything not listed below.
    static let failure = ExitCode(1)
    /// `init` found a vault already there.
    static let vaultExists = ExitCode(10)
    /// No vault in the home folder.
    static let vaultMissing = ExitCode(11)
    /// Wrong passphrase, or none available.
    static let vaultLocked = ExitCode(12)
    /// The key file is truncated, tampered with, or from a newer version.
    static let vaultCorrupt = ExitCode(13)
    /// A recovery code that does not decode.
    static let badRecoveryCode = ExitCode(14)
    /// A file could not be read or written.
    static let ioError = ExitCode(15)
    /// Invalid input (parameters, sizes, files handed to us).
    static let invalidInput = ExitCode(16)
    /// A host could not be reached, or failed a request.
    static let hostUnreachable = ExitCode(17)
    /// A host refused this device (not paired, code used or expired).
    static let refused = ExitCode(18)
    /// The catalog could not be opened or is from a newer version.
    static let catalogError = ExitCode(19)
    /// Not enough usable hosts to store anything.
    static let noHosts = ExitCode(20)
    /// Too few shards could be stored or fetched.
    static let dataUnavailable = ExitCode(21)
    /// Some files have fewer shards than planned (still readable).
    static let degraded = ExitCode(22)
    /// The catalog breaks its own rules (see 'vishwa verify --catalog').
    static let catalogInconsistent = ExitCode(23)

    // `vishwa fsck` alone uses fsck(8)'s codes, which operators' scripts already know.
    static let fsckCorrected = ExitCode(1)
    static let fsckUncorrected = ExitCode(4)
    static let fsckOperationalError = ExitCode(8)
}
