import VishwaCore
import VishwaCrypto
import VishwaWire

extension VaultProof {
    /// The intent byte signed for a pairing spent with an invitation (docs/wire.md §2.1).
    static let pairingIntent: UInt8 = 1

    /// The vault's signature admitting `deviceKey` to the host `hostKey` with the invitation `secret`.
    public static func pairing(signedBy vaultKey: Ed25519KeyPair, vaultID: VaultID, hostKey: [UInt8],
                               deviceKey: [UInt8], secret: [UInt8]) -> VaultProof {
        let message = ClientHello.admissionMessage(intent: pairingIntent, hostKey: hostKey, deviceKey: deviceKey,
                                                   vaultID: vaultID, secret: secret)
        return VaultProof(vaultKey: vaultKey.publicKey, signature: vaultKey.sign(message))
    }

    /// Whether this is `vaultKey`'s valid signature of that pairing (the host checks this before
    /// it looks at the invitation or the pinned key).
    public func provesPairing(vaultID: VaultID, hostKey: [UInt8], deviceKey: [UInt8], secret: [UInt8]) -> Bool {
        let message = ClientHello.admissionMessage(intent: Self.pairingIntent, hostKey: hostKey, deviceKey: deviceKey,
                                                   vaultID: vaultID, secret: secret)
        return Ed25519KeyPair.verify(signature: signature, of: message, publicKey: vaultKey)
    }
}

extension ClientHello {
    /// The hello of a device pairing with the host `hostKey`, signed by its vault.
    public static func pairing(vaultID: VaultID, secret: [UInt8], hostKey: [UInt8], device: X25519KeyPair,
                               vaultKey: Ed25519KeyPair) -> ClientHello {
        let proof = VaultProof.pairing(signedBy: vaultKey, vaultID: vaultID, hostKey: hostKey,
                                       deviceKey: device.publicKey, secret: secret)
        return ClientHello(vaultID: vaultID, intent: .pair(secret: secret, proof: proof))
    }
}
