import CLibFuzzer
import FuzzSupport
import VishwaCore
import VishwaCrypto
import VishwaVault

#if canImport(Glibc)
import Glibc
#endif

/// The vault key file (docs/format.md §1) as `vishwa` and `vishwafs` read it from disk, and the
/// input as a typed recovery code (§1.2).
///
/// Key file: the input after its first byte is written as `vault.key` in a scratch home and read
/// with `Vault.identity(in:)` and `Vault.open(in:passphrase:)`. With bit 0 of the first byte set,
/// the target first puts the right checksum at the end (so mutations reach the fields behind it).
/// Besides "never traps, never asks for more memory than the file's bounded cost": an identity is
/// read only from a file of exactly one of the two lengths and is the bytes it says; a protected
/// file without a passphrase asks for one; only the seeds' keys open (a checksum is no signature,
/// but the identity must derive from the key); a file that opens unprotected is written back
/// byte for byte by `Vault.create` from its master key, so its reserved bytes are zero (B6).
///
/// Recovery code: the whole input as UTF-8 text through `RecoveryCode.decode`. What is accepted
/// has the right checksum and re-encodes to a code that decodes to the same key, also with its
/// groups joined by any of the separators a person may type or paste, CR LF among them (B4).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVaultKey(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    if let flags = input.first {
        var file = Array(input.dropFirst())
        if flags & 1 != 0, file.count > 32 {
            file.replaceSubrange((file.count - 32)..., with: BLAKE2b.hash(Array(file[..<(file.count - 32)]), length: 32))
        }
        checkKeyFile(file)
    }
    checkRecoveryCode(String(decoding: input, as: UTF8.self), separators: input)
    return 0
}

private func checkKeyFile(_ file: [UInt8]) {
    _ = mkdir(Scratch.home.path, 0o700)
    guard writeFile(file, to: Scratch.home.keyFile) else { return }
    let identity: VaultIdentity
    do {
        identity = try Vault.identity(in: Scratch.home)
    } catch {
        Oracle.require(!isIOError(error), "reading the key file failed: \(error)")
        return
    }
    Oracle.require([120, 192].contains(file.count) && file.starts(with: Array("VWKY".utf8)), "identity read from \(file.count) bytes")
    Oracle.require(identity.vaultID.bytes == Array(file[8..<24]) && identity.devicePublicKey == Array(file[24..<56]),
                   "identity is not the bytes the file holds")
    Oracle.require(identity.isPassphraseProtected == (file[5] == 1), "protection byte \(file[5]) read as \(identity.isPassphraseProtected)")

    if identity.isPassphraseProtected {
        do {
            _ = try Vault.open(in: Scratch.home, passphrase: nil)
            Oracle.require(false, "a protected key file opened without a passphrase")
        } catch {
            Oracle.require(error == .passphraseRequired(path: Scratch.home.keyFile), "a protected key file without passphrase: \(error)")
        }
        // Argon2id runs with the file's own cost: only cheap ones here, or one input takes seconds.
        guard bigEndian(file[56..<64]) <= 2, bigEndian(file[64..<72]) <= 1 << 20 else { return }
    }
    let vault: Vault
    do {
        vault = try Vault.open(in: Scratch.home, passphrase: identity.isPassphraseProtected ? Seeds.passphrase : nil)
    } catch {
        Oracle.require(!isIOError(error), "opening the key file failed: \(error)")
        return
    }
    Oracle.require(vault.identity == identity, "the opened vault's identity differs from the file's")
    Oracle.require(vault.masterKey.isEqual(to: Seeds.masterKey), "a key file the seeds did not write opened")
    if !identity.isPassphraseProtected {
        do {
            try Vault.create(in: Scratch.again, protection: .none, masterKey: vault.masterKey)
            let written = read(Scratch.again.keyFile)
            // The two reserved bytes after the protection byte are zero in format version 1 (B6,
            // Fuzz/README.md): a file with anything there is corrupt, so this one holds zeros.
            Oracle.require(file[6..<8] == [0, 0], "a key file with reserved bytes \(file[6]) \(file[7]) opened")
            Oracle.require(written == file, "the key file written back from its master key differs")
        } catch {
            Oracle.require(false, "writing the key file back failed: \(error)")
        }
        unlink(Scratch.again.keyFile)
    }
}

private func checkRecoveryCode(_ text: String, separators: [UInt8]) {
    guard let key = try? RecoveryCode.decode(text) else { return }
    let code = RecoveryCode.encode(key)
    Oracle.require((try? RecoveryCode.decode(code))?.isEqual(to: key) == true, "recovery code \(code) does not decode to its key")
    // The same code, its groups joined by separators the input picks, in lower case.
    let choices = ["-", " ", "\n", "\t", " - ", "\r\n"]
    let groups = code.split(separator: "-").map(String.init)
    var joined = groups[0].lowercased()
    for (i, group) in groups.dropFirst().enumerated() {
        joined += choices[Int(separators.isEmpty ? 0 : separators[i % separators.count]) % choices.count] + group.lowercased()
    }
    let decoded = try? RecoveryCode.decode(joined)
    Oracle.require(decoded?.isEqual(to: key) == true,
                   "recovery code \(joined.debugDescription) does not decode (\(String(describing: decoded)))")
}

private func isIOError(_ error: VaultError) -> Bool {
    switch error {
    case .io, .missing: return true
    default: return false
    }
}

private func bigEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 { bytes.reduce(0) { $0 << 8 | UInt64($1) } }

/// Scratch homes under $TMPDIR (else /dev/shm, where a write costs no disk, else /tmp), one pair
/// per process, removed at exit.
private enum Scratch {
    static let root: String = {
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp")
        var template = Array("\(base)/vishwa-fuzz-vault-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { fatalError("cannot make a scratch directory under \(base)") }
        let path = String(cString: made)
        atexit { removeScratch() }
        return path
    }()
    static let home = VaultHome(path: root + "/home")
    static let again = VaultHome(path: root + "/again")
}

private func removeScratch() {
    for path in [Scratch.home.keyFile, Scratch.again.keyFile, Scratch.home.path, Scratch.again.path, Scratch.root] {
        if unlink(path) != 0 { rmdir(path) }
    }
}

private func writeFile(_ bytes: [UInt8], to path: String) -> Bool {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    return bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count
}

private func read(_ path: String) -> [UInt8]? { try? DurableFile.read(path, limit: 4096) }

/// What the committed seeds were made with (FUZZ_WRITE_SEEDS): a fixed master key, and a
/// passphrase with the cheapest Argon2id cost libsodium allows.
private enum Seeds {
    static let masterKey = SecretBytes(copying: (0..<32).map { UInt8($0) &* 5 &+ 3 })
    static let passphrase = Array("fuzz".utf8)
    static let cheap = Argon2id.Cost(operations: 1, memoryBytes: 8192)

    static func write(to dir: String) throws {
        for (name, protection) in [("seed-plain", KeyProtection.none), ("seed-passphrase", .passphrase(passphrase, cost: cheap))] {
            let home = VaultHome(path: Scratch.root + "/" + name)
            try Vault.create(in: home, protection: protection, masterKey: masterKey)
            // The first byte is the target's flags: 0 leaves the checksum as written.
            let file = [0] + (read(home.keyFile) ?? [])
            guard writeFile(file, to: dir + "/" + name) else { fatalError("cannot write \(dir)/\(name)") }
            unlink(home.keyFile)
            rmdir(home.path)
        }
        let code = RecoveryCode.encode(masterKey)
        guard writeFile(Array(code.utf8), to: dir + "/seed-recovery-code"),
              writeFile(Array(code.lowercased().split(separator: "-").joined(separator: " ").utf8), to: dir + "/seed-recovery-code-spaces")
        else { fatalError("cannot write the recovery code seeds") }
    }
}


/// The program's main(): SwiftPM links `main` to `<Module>_main` (CLibFuzzer/shim.h).
/// With FUZZ_WRITE_SEEDS=DIR it writes the seed inputs to DIR instead of fuzzing.
@_cdecl("FuzzVaultKey_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    if let dir = getenv("FUZZ_WRITE_SEEDS") {
        do { try Seeds.write(to: String(cString: dir)) } catch { fatalError("writing seeds: \(error)") }
        return 0
    }
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzVaultKey)
}
