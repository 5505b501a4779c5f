import NIOCore
import VishwaCore

/// What the device says in the third handshake message, encrypted under the handshake keys
/// (docs/wire.md §2): which vault it acts for and whether it is pairing with a one-time secret.
///
///     u8  payload version (1)
///     u8  intent: 0 session, 1 pair
///     16  vault id
///     32  pairing secret (intent 1 only)
public struct ClientHello: Sendable, Equatable {
    public enum Intent: Sendable, Equatable {
        case session
        case pair(secret: [UInt8])
    }

    public var vaultID: VaultID
    public var intent: Intent

    public static let secretLength = 32

    public init(vaultID: VaultID, intent: Intent) {
        self.vaultID = vaultID
        self.intent = intent
    }

    public func encode() -> [UInt8] {
        var out: [UInt8] = [1]
        switch intent {
        case .session: out.append(0)
        case .pair: out.append(1)
        }
        out += vaultID.bytes
        if case .pair(let secret) = intent { out += secret }
        return out
    }

    public init(decoding bytes: [UInt8]) throws(WireError) {
        guard bytes.count >= 18, bytes[0] == 1 else {
            throw .malformedHandshakePayload("client hello of \(bytes.count) bytes or unknown version")
        }
        let vault = VaultID(bytes: bytes[2..<18])!
        switch bytes[1] {
        case 0 where bytes.count == 18:
            self.init(vaultID: vault, intent: .session)
        case 1 where bytes.count == 18 + Self.secretLength:
            self.init(vaultID: vault, intent: .pair(secret: Array(bytes[18...])))
        default:
            throw .malformedHandshakePayload("client hello intent \(bytes[1]) with \(bytes.count) bytes")
        }
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
