import Foundation
import TestSupport
import Testing
import VishwaCore
import VishwaCrypto
import VishwaShardHost
import VishwaTransport
import VishwaWire

/// The registry's rules for who may pair for a vault id, and for unpairing.
@Suite(.ownThreads) struct PairingRegistryTests {
    let dir: String
    let registry: PairingRegistry
    let hostKey = X25519KeyPair.generate().publicKey
    let vault = VaultID(high: 0x1111, low: 0x2222)
    let vaultKey = Ed25519KeyPair.generate()

    init() throws {
        dir = NSTemporaryDirectory() + "vishwa-registry-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        registry = PairingRegistry(dir: dir)
    }

    /// A pairing of `device` for `vault` with a fresh invitation, signed by `key`.
    func pair(_ device: [UInt8], vault: VaultID? = nil, key: Ed25519KeyPair? = nil,
              proof: (VaultProof) -> VaultProof? = { $0 }) throws -> Authorization {
        let vault = vault ?? self.vault
        let secret = try registry.createInvite(quotaBytes: nil, validFor: 3600)
        let signed = VaultProof.pairing(signedBy: key ?? vaultKey, vaultID: vault, hostKey: hostKey,
                                        deviceKey: device, secret: secret)
        return try registry.pair(device: device, vault: vault, secret: secret, proof: proof(signed), hostKey: hostKey)
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: dir) }

    @Test func theFirstPairingPinsTheVaultKeyAndOnlyItPairsMore() throws {
        defer { cleanUp() }
        let owner = X25519KeyPair.generate().publicKey
        #expect(try pair(owner) == .accept)
        #expect(try registry.pinnedKey(of: vault) == vaultKey.publicKey)

        // Another vault's device, with a good invitation and its own valid signature: refused.
        let stranger = X25519KeyPair.generate().publicKey
        #expect(try pair(stranger, key: .generate()) == .reject("vault \(vault) is paired with this host under another vault key"))
        #expect(try registry.device(stranger, vault: vault) == nil)
        // Its invitation was not spent by the refusal.
        #expect(try registry.invites().filter { $0.usedAt == nil }.count == 1)

        // A second device of the same vault signs with the pinned key: accepted.
        let second = X25519KeyPair.generate().publicKey
        #expect(try pair(second) == .accept)
        #expect(try registry.devices().map(\.deviceKey).sorted() == [Hex.encode(owner), Hex.encode(second)].sorted())
        #expect(try registry.pinnedKey(of: vault) == vaultKey.publicKey)
    }

    @Test func aSignatureThatDoesNotVerifyIsRefused() throws {
        defer { cleanUp() }
        let device = X25519KeyPair.generate().publicKey
        let refused = Authorization.reject("the vault's signature of this pairing is not valid")
        // A flipped bit.
        #expect(try pair(device) { proof in
            var bad = proof
            bad.signature[10] ^= 1
            return bad
        } == refused)
        // The victim's public key with the attacker's signature.
        let other = Ed25519KeyPair.generate()
        #expect(try pair(device, key: other) { VaultProof(vaultKey: self.vaultKey.publicKey, signature: $0.signature) } == refused)
        // A good signature of another device's pairing (replayed for this device).
        let secret = try registry.createInvite(quotaBytes: nil, validFor: 3600)
        let forOther = VaultProof.pairing(signedBy: vaultKey, vaultID: vault, hostKey: hostKey,
                                          deviceKey: X25519KeyPair.generate().publicKey, secret: secret)
        #expect(try registry.pair(device: device, vault: vault, secret: secret, proof: forOther, hostKey: hostKey) == refused)
        // A good signature for another host.
        let otherHost = VaultProof.pairing(signedBy: vaultKey, vaultID: vault, hostKey: X25519KeyPair.generate().publicKey,
                                           deviceKey: device, secret: secret)
        #expect(try registry.pair(device: device, vault: vault, secret: secret, proof: otherHost, hostKey: hostKey) == refused)
        // A key of the wrong length.
        #expect(try pair(device) { VaultProof(vaultKey: Array($0.vaultKey.dropLast()), signature: $0.signature) } == refused)
        #expect(try registry.devices().isEmpty)
        #expect(try registry.pinnedKey(of: vault) == nil)
    }

    @Test func anUnsignedPairingIsRefused() throws {
        defer { cleanUp() }
        let device = X25519KeyPair.generate().publicKey
        let answer = try pair(device) { _ in nil }
        #expect(answer == .reject("this device's vishwa is too old to pair with this host (it sends no vault signature): update it"))
        #expect(try registry.devices().isEmpty)
    }

    @Test func aVaultPairedBeforePinsIsPinnedOnlyByADeviceAlreadyPaired() throws {
        defer { cleanUp() }
        let legacy = X25519KeyPair.generate().publicKey
        // The devices file as older versions wrote it: version 1, no pins.
        let old = """
            {"version": 1, "devices": [{"device_key": "\(Hex.encode(legacy))", "vault_id": "\(vault)", "paired_at": 1}]}
            """
        try Data(old.utf8).write(to: URL(fileURLWithPath: dir + "/devices.json"))
        #expect(try registry.device(legacy, vault: vault) != nil)

        let stranger = X25519KeyPair.generate().publicKey
        #expect(try pair(stranger, key: .generate()) == .reject(
            "vault \(vault) was paired with this host before vault keys were pinned: pair again from a device already paired for it"))
        #expect(try pair(stranger) != .accept)  // even with the vault's real key: the host cannot tell
        #expect(try registry.pinnedKey(of: vault) == nil)

        #expect(try pair(legacy) == .accept)
        #expect(try registry.pinnedKey(of: vault) == vaultKey.publicKey)
        let file = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/devices.json"))) as? [String: Any]
        #expect(file?["version"] as? Int == 2)
        #expect(try pair(stranger) == .accept)  // now the pinned key admits it
    }

    @Test func aDevicesFileOfAnUnknownVersionIsCorrupt() throws {
        defer { cleanUp() }
        try Data(#"{"version": 3, "devices": []}"#.utf8).write(to: URL(fileURLWithPath: dir + "/devices.json"))
        #expect(throws: HostError.self) { try registry.devices() }
    }

    @Test func revokingByKeyByIdAndByVault() throws {
        defer { cleanUp() }
        let a = X25519KeyPair.generate().publicKey, b = X25519KeyPair.generate().publicKey
        let c = X25519KeyPair.generate().publicKey
        let otherVault = VaultID(high: 3, low: 4)
        let otherKey = Ed25519KeyPair.generate()
        #expect(try pair(a) == .accept)
        #expect(try pair(b) == .accept)
        #expect(try pair(c, vault: otherVault, key: otherKey) == .accept)

        #expect(try registry.revoke(device: Hex.encode(a).uppercased()).map(\.deviceKey) == [Hex.encode(a)])
        #expect(try registry.device(a, vault: vault) == nil)
        #expect(try registry.revoke(device: KeyFingerprint.short(b)).map(\.deviceKey) == [Hex.encode(b)])
        #expect(throws: HostError.invalidArgument("no paired device has the key or id \(KeyFingerprint.short(b))")) {
            try registry.revoke(device: KeyFingerprint.short(b))
        }
        // The pin stays: only the vault's key pairs again.
        #expect(try pair(a, key: .generate()) != .accept)
        #expect(try pair(a) == .accept)

        #expect(try registry.revoke(vault: vault, forgetKey: false).count == 1)
        #expect(try registry.pinnedKey(of: vault) == vaultKey.publicKey)
        #expect(throws: HostError.self) { try registry.revoke(vault: vault, forgetKey: false) }
        #expect(try registry.revoke(vault: vault, forgetKey: true).isEmpty)
        #expect(try registry.pinnedKey(of: vault) == nil)
        let newKey = Ed25519KeyPair.generate()
        #expect(try pair(b, key: newKey) == .accept)
        #expect(try registry.pinnedKey(of: vault) == newKey.publicKey)

        // The other vault was never touched; a device unpairing itself leaves its vault's pin.
        #expect(try registry.device(c, vault: otherVault) != nil)
        #expect(try registry.unpair(device: c, vault: otherVault))
        #expect(try !registry.unpair(device: c, vault: otherVault))
        #expect(try registry.pinnedKey(of: otherVault) == otherKey.publicKey)
    }
}
