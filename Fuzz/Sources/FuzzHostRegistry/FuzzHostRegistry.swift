import CLibFuzzer
import Foundation
import FuzzSupport
import VishwaCore
import VishwaShardHost

/// The host's registry files (the JSON Sources/VishwaShardHost/PairingRegistry.swift writes) as `vishwa-shard` reads them: the input up to
/// its first zero byte is `devices.json`, the rest (when there is a zero byte) `invites.json`.
///
/// Besides "never traps": a file that does not parse is one one-line `.corrupt` error; the
/// devices and the pinned vault keys (version 2's `vaults`) read twice are the same; every vault
/// whose id is well-formed has the first key pinned for it as `pinnedKey(of:)`; every device whose key and vault id are well-formed is found
/// by `device(_:vault:)`, and `quota(of:)` is the largest quota of the vault's devices, nil when
/// one has none; `createInvite` works exactly when the invites file parses (or is absent) and
/// leaves the old invitations (less those ended over a week ago) followed by the new one.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHostRegistry(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let split = input.firstIndex(of: 0)
    let devicesFile = Array(input[..<(split ?? input.count)])
    let invitesFile = split.map { Array(input[($0 + 1)...]) }
    Scratch.reset(devices: devicesFile, invites: invitesFile)
    // A new registry each time: its cache of the devices file lives in the instance.
    let registry = PairingRegistry(dir: Scratch.dir)
    checkDevices(registry)
    checkInvites(registry)
    return 0
}

private func checkDevices(_ registry: PairingRegistry) {
    let devices: [PairingRegistry.Device]
    do {
        devices = try registry.devices()
    } catch {
        requireOneLineCorrupt(error)
        return
    }
    Oracle.require((try? registry.devices()) == devices, "the devices file read twice differs")
    guard let pins = try? registry.pinnedVaults() else {
        Oracle.require(false, "the devices file parses but its pinned vaults do not")
        return
    }
    Oracle.require((try? registry.pinnedVaults()) == pins, "the pinned vaults read twice differ")
    for pin in pins {
        guard let vault = VaultID(hex: pin.vaultID), vault.description == pin.vaultID else { continue }
        let first = pins.first { $0.vaultID == pin.vaultID }!
        Oracle.require((try? registry.pinnedKey(of: vault)) == Hex.decode(first.vaultKey),
                       "vault \(pin.vaultID) is not pinned to \(first.vaultKey)")
    }
    for device in devices {
        guard let key = Hex.decode(device.deviceKey), let vault = VaultID(hex: device.vaultID),
              vault.description == device.vaultID, Hex.encode(key) == device.deviceKey else { continue }
        let found = try? registry.device(key, vault: vault)
        Oracle.require(found?.deviceKey == device.deviceKey && found?.vaultID == device.vaultID,
                       "device \(device.deviceKey) of vault \(device.vaultID) is not found")
        let quotas = devices.filter { $0.vaultID == device.vaultID }.map(\.quotaBytes)
        let expected: Int? = quotas.contains(where: { $0 == nil }) ? nil : quotas.compactMap { $0 }.max()
        Oracle.require((try? registry.quota(of: vault)) == expected, "quota of vault \(device.vaultID) is not \(String(describing: expected))")
    }
}

private func checkInvites(_ registry: PairingRegistry) {
    let before: [PairingRegistry.Invite]?
    do {
        before = try registry.invites()
    } catch {
        requireOneLineCorrupt(error)
        before = nil
    }
    let now = 1_800_000_000
    do {
        _ = try registry.createInvite(quotaBytes: 1 << 30, validFor: 3600, now: now)
    } catch {
        Oracle.require(before == nil, "createInvite failed on an invites file that parses: \(error)")
        requireOneLineCorrupt(error)
        return
    }
    guard let before else {
        Oracle.require(false, "createInvite replaced an invites file that does not parse")
        return
    }
    guard let after = try? registry.invites() else {
        Oracle.require(false, "the invites file createInvite wrote does not parse")
        return
    }
    let kept = before.filter { ($0.usedAt ?? $0.expiresAt) >= now - 7 * 86400 }
    Oracle.require(after.count == kept.count + 1 && Array(after.dropLast()) == kept, "createInvite changed the other invitations")
    Oracle.require(after.last.map { $0.createdAt == now && $0.expiresAt == now + 3600 && $0.quotaBytes == 1 << 30 && $0.usedAt == nil }
                   ?? false, "the new invitation is not the one created")
}

private func requireOneLineCorrupt(_ error: HostError) {
    guard case .corrupt = error else {
        Oracle.require(false, "a registry file that does not parse gave \(error)")
        return
    }
    Oracle.require(!error.description.contains("\n"), "the error is not one line: \(error.description.debugDescription)")
}

/// One scratch registry directory per process, under $TMPDIR (else /dev/shm, where the registry's
/// fsyncs cost no disk, else /tmp), removed at exit.
private enum Scratch {
    static let dir: String = {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp")
        var template = Array("\(base)/vishwa-fuzz-registry-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { fatalError("cannot make a scratch directory under \(base)") }
        atexit { try? FileManager.default.removeItem(atPath: Scratch.dir) }
        return String(cString: made)
    }()

    static func reset(devices: [UInt8], invites: [UInt8]?) {
        write(devices, to: dir + "/devices.json")
        if let invites { write(invites, to: dir + "/invites.json") } else { unlink(dir + "/invites.json") }
    }

    static func write(_ bytes: [UInt8], to path: String) {
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { fatalError("cannot write \(path)") }
    }
}

/// Seeds: files as `vishwa-shard` writes them (version 2: two devices of one vault, one with a
/// quota, and the vault's pinned key; an open, a used and an old invitation), a version 1 devices
/// file (no pins) alone, and the invites alone.
private func writeSeeds(to dir: String) throws {
    let key = String(repeating: "ab", count: 32), other = String(repeating: "cd", count: 32)
    let vault = String(repeating: "0f", count: 16)
    let vaultKey = String(repeating: "7e", count: 32)
    let devicesV1 = """
        {
          "devices" : [
            {
              "device_key" : "\(key)",
              "paired_at" : 1700000000,
              "quota_bytes" : 1073741824,
              "vault_id" : "\(vault)"
            },
            {
              "device_key" : "\(other)",
              "paired_at" : 1700000100,
              "vault_id" : "\(vault)"
            }
          ],
          "version" : 1
        }

        """
    let devices = """
        {
          "devices" : [
            {
              "device_key" : "\(key)",
              "paired_at" : 1700000000,
              "quota_bytes" : 1073741824,
              "vault_id" : "\(vault)"
            },
            {
              "device_key" : "\(other)",
              "paired_at" : 1700000100,
              "vault_id" : "\(vault)"
            }
          ],
          "vaults" : [
            {
              "pinned_at" : 1700000000,
              "vault_id" : "\(vault)",
              "vault_key" : "\(vaultKey)"
            }
          ],
          "version" : 2
        }

        """
    let invites = """
        {
          "invites" : [
            {
              "created_at" : 1799990000,
              "expires_at" : 1800090000,
              "quota_bytes" : 5000000,
              "secret_hash" : "\(String(repeating: "12", count: 32))"
            },
            {
              "created_at" : 1700000000,
              "expires_at" : 1700086400,
              "secret_hash" : "\(String(repeating: "34", count: 32))",
              "used_at" : 1700000050,
              "used_by" : "\(key)"
            }
          ],
          "version" : 1
        }

        """
    try Data(Array(devices.utf8) + [0] + Array(invites.utf8)).write(to: URL(fileURLWithPath: dir + "/seed-both"))
    try Data(Array(devicesV1.utf8)).write(to: URL(fileURLWithPath: dir + "/seed-devices-only"))
    try Data(Array(#"{"devices":[],"vaults":[],"version":2}"#.utf8) + [0] + Array(invites.utf8)).write(to: URL(fileURLWithPath: dir + "/seed-invites"))
}

/// The program's main(): SwiftPM links `main` to `<Module>_main` (CLibFuzzer/shim.h).
/// With FUZZ_WRITE_SEEDS=DIR it writes the seed inputs to DIR instead of fuzzing.
@_cdecl("FuzzHostRegistry_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    if let dir = ProcessInfo.processInfo.environment["FUZZ_WRITE_SEEDS"] {
        do { try writeSeeds(to: dir) } catch { fatalError("writing seeds: \(error)") }
        return 0
    }
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzHostRegistry)
}
