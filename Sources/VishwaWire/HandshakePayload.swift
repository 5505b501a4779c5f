import NIOCore
import VishwaCore

/// What the device says in the third handshake message, encrypted under the handshake keys
/// (docs/wire.md §2): which vault it acts for and whether it is pairing with a one-time secret.
///
///     u8  payload version (2; version 1 is still decoded)
///     u8  intent: 0 session, 1 pair
///     16  vault id
///     intent 1: 32 pairing secret, then in version 2 the vault's proof:
///               32 vault public key (Ed25519), 64 signature of `admissionMessage`
public struct ClientHello: Sendable, Equatable {
    public enum Intent: Sendable, Equatable {
        case session
        /// `proof` nil: a version 1 pairing, which proves nothing about the vault (hosts refuse it).
        case pair(secret: [UInt8], proof: VaultProof?)
    }

    public var vaultID: VaultID
    public var intent: Intent

    public static let version: UInt8 = 2
    public static let secretLength = 32

    public init(vaultID: VaultID, intent: Intent) {
        self.vaultID = vaultID
        self.intent = intent
    }

    /// Version 2, except a pairing without a proof, which only version 1 can say.
    public func encode() -> [UInt8] {
        switch intent {
        case .session:
            return [Self.version, 0] + vaultID.bytes
        case .pair(let secret, let proof?):
            return [Self.version, 1] + vaultID.bytes + secret + proof.vaultKey + proof.signature
        case .pair(let secret, nil):
            return [1, 1] + vaultID.bytes + secret
        }
    }

    public init(decoding bytes: [UInt8]) throws(WireError) {
        guard bytes.count >= 18, bytes[0] == 1 || bytes[0] == 2 else {
            throw .malformedHandshakePayload("client hello of \(bytes.count) bytes or unknown version")
        }
        let vault = VaultID(bytes: bytes[2..<18])!
        let secretEnd = 18 + Self.secretLength
        switch (bytes[0], bytes[1]) {
        case (_, 0) where bytes.count == 18:
            self.init(vaultID: vault, intent: .session)
        case (1, 1) where bytes.count == secretEnd:
            self.init(vaultID: vault, intent: .pair(secret: Array(bytes[18..<secretEnd]), proof: nil))
        case (2, 1) where bytes.count == secretEnd + VaultProof.length:
            let keyEnd = secretEnd + VaultProof.keyLength
            let proof = VaultProof(vaultKey: Array(bytes[secretEnd..<keyEnd]), signature: Array(bytes[keyEnd...]))
            self.init(vaultID: vault, intent: .pair(secret: Array(bytes[18..<secretEnd]), proof: proof))
        default:
            throw .malformedHandshakePayload("client hello version \(bytes[0]) intent \(bytes[1]) with \(bytes.count) bytes")
        }
    }

    /// The bytes a vault signs to admit a device to a host (docs/wire.md §2.1): a domain string,
    /// the intent, the host's and the device's static keys, the vault id and, for a pairing, its
    /// secret. Binding both keys means a signature is good for one device on one host only;
    /// the intent keeps a pairing's signature from standing for any other kind of admission.
    public static func admissionMessage(intent: UInt8, hostKey: [UInt8], deviceKey: [UInt8], vaultID: VaultID,
                                        secret: [UInt8]) -> [UInt8] {
        admissionDomain + [intent] + hostKey + deviceKey + vaultID.bytes + secret
    }

    static let admissionDomain = Array("vishwa/admit/1".utf8)
}

/// A vault's proof that it admits a device: its Ed25519 public key and signature of
/// `ClientHello.admissionMessage` (the signing itself is in VishwaTransport, which has the crypto).
public struct VaultProof: Sendable, Equatable {
    public static let keyLength = 32
    public static let signatureLength = 64
    static let length = keyLength + signatureLength

    public var vaultKey: [UInt8]
    public var signature: [UInt8]

    public init(vaultKey: [UInt8], signature: [UInt8]) {
        self.vaultKey = vaultKey
        self.signature = signature
    }
}

/// What the host says in the second handshake message: the wire version it speaks.
///
/// Version 3 sends shard headers encrypted (docs/wire.md §1.1); a version 2 host sends them in
/// clear records, readable by anyone on the path, so a device refuses it.
public enum ServerHello {
    public static let wireVersion: UInt8 = 3

    public static func encode() -> [UInt8] { [wireVersion] }

    public static func decode(_ bytes: [UInt8]) throws(WireError) {
        guard bytes.count == 1 else { throw .malformedHandshakePayload("server hello of \(bytes.count) bytes") }
        guard bytes[0] == wireVersion else {
            let update = bytes[0] < wireVersion ? "update vishwa-shard on that host" : "update this program"
            throw .wireVersion("the host speaks wire version \(bytes[0]) and this program \(wireVersion): \(update)")
        }
    }
}

/// The Noise prologue: both sides mix it into the handshake, so a peer speaking anything else fails.
public let noisePrologue: [UInt8] = Array("vishwa/1".utf8)
