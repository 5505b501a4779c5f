import Foundation
import NIOCore
import TestSupport
import Testing
import VishwaCore
import VishwaCrypto
import VishwaTransport
import VishwaWire

/// Who may pair for a vault on a shared host, and unpairing, against a real `vishwa-shard`. The
/// hostile device is built here from the transport (`HostConnection` with a hello of our making).
@Suite(.ownThreads, .timeLimit(.minutes(3))) struct PairingTests {
    @Test func anotherVaultsDeviceWithAValidInviteCannotTakeOverAVault() async throws {
        let scratch = Scratch("takeover")
        let host = try ShardHostProcess(in: scratch, name: "h1")
        defer { withExtendedLifetime(host) {} }  // the daemon lives as long as the test
        let victim = TestDevice()
        let (owner, _) = try await victim.pair(try host.invite())
        let id = randomID(), shard = randomShard(100_000)
        try await owner.put(id, shard)
        try await owner.putBackup(generation: 5, randomShard(1000))
        let vaultDir = host.dir + "/store/vaults/\(victim.vault)"
        let before = contents(under: vaultDir)
        #expect(before.count == 1)

        // A tenant of the same host, with an invitation of its own, claims the victim's vault id.
        let attacker = X25519KeyPair.generate()
        let attackerVault = Ed25519KeyPair.generate()
        let invite = try PairingCode(parsing: try host.invite())
        let signedByItself = ClientHello.pairing(vaultID: victim.vault, secret: invite.secret, hostKey: invite.hostKey,
                                                 device: attacker, vaultKey: attackerVault)
        #expect(await refusal(invite, attacker, signedByItself) == "vault \(victim.vault) is paired with this host under another vault key")
        // The victim's public key with a signature it never made.
        guard case .pair(_, let proof?) = signedByItself.intent else { throw TestFailure("no proof") }
        let forged = ClientHello(vaultID: victim.vault, intent: .pair(
            secret: invite.secret, proof: VaultProof(vaultKey: victim.vaultKey.publicKey, signature: proof.signature)))
        #expect(await refusal(invite, attacker, forged) == "the vault's signature of this pairing is not valid")
        // A pairing as version 1 of the hello made it, with no proof at all.
        let unsigned = ClientHello(vaultID: victim.vault, intent: .pair(secret: invite.secret, proof: nil))
        #expect(await refusal(invite, attacker, unsigned)?.hasPrefix("this device's vishwa is too old to pair") == true)
        let session = ClientHello(vaultID: victim.vault, intent: .session)
        #expect(await refusal(invite, attacker, session) == "this device is not paired with this host for vault \(victim.vault)")

        // The refusals left the invitation unspent: with it the attacker pairs its own vault,
        // whose session reaches nothing of the victim's.
        let own = VaultID(high: .random(in: 0...UInt64.max), low: .random(in: 0...UInt64.max))
        let mine = try await HostConnection.connect(
            to: invite.address, hostKey: invite.hostKey, device: attacker,
            hello: .pairing(vaultID: own, secret: invite.secret, hostKey: invite.hostKey, device: attacker, vaultKey: attackerVault),
            group: TestDevice.group, logger: TestDevice.logger)
        #expect(try await mine.list(after: nil).ids.isEmpty)
        #expect(try await mine.has([id]) == [nil])
        do {
            _ = try await mine.get(id)
            Issue.record("the attacker read the victim's shard")
        } catch {
            #expect(error.status == .notFound)
        }
        #expect(try await mine.delete([id]) == 0)
        try await mine.put(id, randomShard(5000))
        #expect(try await mine.listBackups() == [])
        try await mine.putBackup(generation: 1000, randomShard(1000))
        await mine.close()

        // The victim's vault is as it was.
        #expect(try await owner.list(after: nil).ids == [id])
        #expect(try await owner.get(id) == shard)
        #expect(try await owner.listBackups() == [5])
        #expect(contents(under: vaultDir) == before)
        await owner.close()
        #expect(host.isRunning)
    }

    @Test func revokingByKeyIdOrVaultRefusesTheNextHandshakeAndStopsAnOpenSession() async throws {
        let scratch = Scratch("revoke")
        let host = try ShardHostProcess(in: scratch, name: "h1")
        defer { withExtendedLifetime(host) {} }  // the daemon lives as long as the test

        // By the whole key, while the device is connected.
        let a = TestDevice()
        let (open, code) = try await a.pair(try host.invite())
        try await open.ping()
        let byKey = try run("vishwa-shard", ["revoke", "--dir", host.dir, Hex.encode(a.keyPair.publicKey)])
        #expect(byKey.status == 0, "\(byKey.stderr)")
        #expect(byKey.stdout == "revoked device \(Hex.encode(a.keyPair.publicKey)) (vault \(a.vault))\n")
        do {
            try await open.ping()
            Issue.record("a revoked device's open session was still served")
        } catch {
            #expect(error.status == .unauthorized)
        }
        await open.close()
        #expect(await refusal(code, a.keyPair, ClientHello(vaultID: a.vault, intent: .session))?.contains("not paired") == true)

        // By the short device id that `status` lists.
        let b = TestDevice()
        let (second, _) = try await b.pair(try host.invite())
        await second.close()
        let status = try run("vishwa-shard", ["status", "--dir", host.dir])
        #expect(status.stdout.contains("vault \(b.vault): 1 device(s)"), "\(status.stdout)")
        #expect(status.stdout.contains("\n  device \(KeyFingerprint.short(b.keyPair.publicKey))\n"), "\(status.stdout)")
        let byID = try run("vishwa-shard", ["revoke", "--dir", host.dir, KeyFingerprint.short(b.keyPair.publicKey)])
        #expect(byID.status == 0, "\(byID.stderr)")
        #expect(await refusal(code, b.keyPair, ClientHello(vaultID: b.vault, intent: .session))?.contains("not paired") == true)

        // By vault: both devices of one vault.
        let c = TestDevice()
        let (third, _) = try await c.pair(try host.invite())
        await third.close()
        let sibling = X25519KeyPair.generate()
        let invite = try PairingCode(parsing: try host.invite())
        let fourth = try await HostConnection.connect(
            to: invite.address, hostKey: invite.hostKey, device: sibling,
            hello: .pairing(vaultID: c.vault, secret: invite.secret, hostKey: invite.hostKey, device: sibling, vaultKey: c.vaultKey),
            group: TestDevice.group, logger: TestDevice.logger)
        await fourth.close()
        let byVault = try run("vishwa-shard", ["revoke", "--dir", host.dir, "--vault", c.vault.description])
        #expect(byVault.status == 0, "\(byVault.stderr)")
        #expect(byVault.stdout == "revoked 2 device(s) of vault \(c.vault)\n")
        for device in [c.keyPair, sibling] {
            #expect(await refusal(code, device, ClientHello(vaultID: c.vault, intent: .session))?.contains("not paired") == true)
        }

        let unknown = try run("vishwa-shard", ["revoke", "--dir", host.dir, KeyFingerprint.short(b.keyPair.publicKey)])
        #expect(unknown.status == 1)
        #expect(unknown.stderr == "vishwa-shard: no paired device has the key or id \(KeyFingerprint.short(b.keyPair.publicKey))\n")
        #expect(host.isRunning)
    }

    @Test func hostRemoveTellsALiveHostToForgetThisDevice() async throws {
        let scratch = Scratch("unpair")
        let host = try ShardHostProcess(in: scratch, name: "h1")
        defer { withExtendedLifetime(host) {} }  // the daemon lives as long as the test
        let home = try makeVault(in: scratch)
        let code = try PairingCode(parsing: try host.invite())
        let added = try run("vishwa", ["host", "add", "--home", home, code.description])
        #expect(added.status == 0, "\(added.stderr)")
        let (device, vault) = try vaultDevice(home)
        #expect(await refusal(code, device, ClientHello(vaultID: vault, intent: .session)) == nil)

        let removed = try run("vishwa", ["host", "remove", "--home", home, host.address])
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(removed.stdout.contains("the host forgot this device"), "\(removed.stdout)")
        #expect(await refusal(code, device, ClientHello(vaultID: vault, intent: .session))?.contains("not paired") == true)
        #expect(host.isRunning)
    }

    @Test func hostRemoveOfAnUnreachableHostSaysSoAndRemovesItHere() throws {
        let scratch = Scratch("unpair-offline")
        let host = try ShardHostProcess(in: scratch, name: "h1")
        let home = try makeVault(in: scratch)
        let added = try run("vishwa", ["host", "add", "--home", home, try host.invite()])
        #expect(added.status == 0, "\(added.stderr)")
        host.kill()

        let removed = try run("vishwa", ["host", "remove", "--home", home, host.address])
        #expect(removed.status == 0, "\(removed.stderr)")
        // One line says so (a log line about the catalog backup, skipped with no host left, may come too).
        let said = removed.stderr.split(separator: "\n").filter { $0.contains("forget this device") }
        #expect(said.count == 1, "\(removed.stderr)")
        #expect(said.first?.hasPrefix("vishwa: \(host.address) could not be told to forget this device (") == true)
        #expect(said.first?.hasSuffix("); removed here all the same") == true)
        let listed = try run("vishwa", ["host", "list", "--home", home, "--json"])
        #expect(listed.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]", "\(listed.stdout)")
    }
}

/// The host's reason for refusing `hello` from `device`; nil if it accepted (the connection is
/// then closed at once).
private func refusal(_ code: PairingCode, _ device: X25519KeyPair, _ hello: ClientHello) async -> String? {
    do {
        let connection = try await HostConnection.connect(to: code.address, hostKey: code.hostKey, device: device,
                                                          hello: hello, group: TestDevice.group, logger: TestDevice.logger)
        await connection.close()
        return nil
    } catch {
        if case .refused(_, let reason) = error { return reason }
        return "not refused but \(error)"
    }
}

/// The device key and vault id of an unprotected vault home, from its key file (docs/format.md §1:
/// the vault id at 8, the master key in clear at 56).
private func vaultDevice(_ home: String) throws -> (X25519KeyPair, VaultID) {
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: home + "/vault.key")))
    guard bytes.count == 120, let vault = VaultID(bytes: bytes[8..<24]) else { throw TestFailure("not an unprotected key file") }
    let device = X25519KeyPair(secretKey: KeyDerivation.subkey(.deviceIdentity, from: SecretBytes(copying: bytes[56..<88])))
    guard device.publicKey == Array(bytes[24..<56]) else { throw TestFailure("the key file's device key is not its master key's") }
    return (device, vault)
}

/// Each file under `dir` with its bytes.
private func contents(under dir: String) -> [String: Data] {
    Dictionary(uniqueKeysWithValues: files(under: dir).map { ($0, FileManager.default.contents(atPath: dir + "/" + $0) ?? Data()) })
}
