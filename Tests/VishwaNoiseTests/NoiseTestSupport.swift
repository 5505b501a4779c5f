@testable import VishwaCrypto

/// Hex helpers and handshake drivers shared by the Noise tests.
enum Hex {
    /// Bytes of an even-length lowercase or uppercase hex string; traps on anything else (test data only).
    static func bytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        precondition(digits.count % 2 == 0, "odd-length hex")
        func value(_ c: UInt8) -> UInt8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: preconditionFailure("not hex")
            }
        }
        return stride(from: 0, to: digits.count, by: 2).map { value(digits[$0]) << 4 | value(digits[$0 + 1]) }
    }

    static func string(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for b in bytes { out += [digits[Int(b >> 4)], digits[Int(b & 15)]] }
        return String(decoding: out, as: UTF8.self)
    }
}

extension X25519KeyPair {
    /// The key pair of a 32-byte private key given in hex.
    static func fromPrivate(_ hex: String) -> X25519KeyPair {
        X25519KeyPair(secretKey: SecretBytes(copying: Hex.bytes(hex)))
    }
}

/// A fresh initiator/responder pair with random static keys and the wire protocol's prologue.
struct HandshakePair {
    let initiatorStatic = X25519KeyPair.generate()
    let responderStatic = X25519KeyPair.generate()
    let initiator: NoiseHandshake
    let responder: NoiseHandshake

    init(initiatorPrologue: [UInt8] = Array("vishwa/1".utf8), responderPrologue: [UInt8] = Array("vishwa/1".utf8)) {
        initiator = NoiseHandshake(role: .initiator, staticKeyPair: initiatorStatic, prologue: initiatorPrologue)
        responder = NoiseHandshake(role: .responder, staticKeyPair: responderStatic, prologue: responderPrologue)
    }

    /// The three XX messages with the given payloads, each delivered unchanged; returns what each reader got.
    func run(payloads: [[UInt8]] = [[], [], []]) throws -> [[UInt8]] {
        let m1 = try initiator.writeMessage(payload: payloads[0])
        let p1 = try responder.readMessage(m1)
        let m2 = try responder.writeMessage(payload: payloads[1])
        let p2 = try initiator.readMessage(m2)
        let m3 = try initiator.writeMessage(payload: payloads[2])
        let p3 = try responder.readMessage(m3)
        return [p1, p2, p3]
    }

    /// Completed transports (initiator's, responder's).
    func transports() throws -> (NoiseTransport, NoiseTransport) {
        _ = try run()
        return (try initiator.split(), try responder.split())
    }
}
