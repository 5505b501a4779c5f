import Foundation
import Testing
@testable import VishwaCrypto

/// Published vectors for Noise_XX_25519_ChaChaPoly_BLAKE2b from cacophony, noise-c and snow
/// (Vectors/Noise_XX_25519_ChaChaPoly_BLAKE2b.json names the file and commit of each), replayed byte for byte.
struct NoiseVectorTests {
    struct VectorFile: Decodable {
        let vectors: [Vector]
    }

    struct Vector: Decodable {
        let source: String
        let protocol_name: String
        let init_prologue: String
        let init_static: String
        let init_ephemeral: String
        let resp_prologue: String
        let resp_static: String
        let resp_ephemeral: String
        let messages: [Message]
        let handshake_hash: String?
    }

    struct Message: Decodable {
        let payload: String
        let ciphertext: String
    }

    static func loadVectors() throws -> [Vector] {
        let url = try #require(Bundle.module.url(forResource: "Noise_XX_25519_ChaChaPoly_BLAKE2b",
                                                 withExtension: "json", subdirectory: "Vectors"))
        return try JSONDecoder().decode(VectorFile.self, from: Data(contentsOf: url)).vectors
    }

    @Test func vectorFileHoldsAllThreeSources() throws {
        let vectors = try Self.loadVectors()
        #expect(vectors.count == 3)
        #expect(vectors.allSatisfy { $0.protocol_name == NoiseHandshake.protocolName })
        #expect(vectors.contains { $0.handshake_hash != nil })
    }

    @Test func replaysEveryPublishedMessage() throws {
        for vector in try Self.loadVectors() {
            let initiatorStatic = X25519KeyPair.fromPrivate(vector.init_static)
            let responderStatic = X25519KeyPair.fromPrivate(vector.resp_static)
            let initiator = NoiseHandshake(role: .initiator, staticKeyPair: initiatorStatic,
                                           prologue: Hex.bytes(vector.init_prologue),
                                           ephemeral: .fromPrivate(vector.init_ephemeral))
            let responder = NoiseHandshake(role: .responder, staticKeyPair: responderStatic,
                                           prologue: Hex.bytes(vector.resp_prologue),
                                           ephemeral: .fromPrivate(vector.resp_ephemeral))
            #expect(vector.messages.count > 3, "\(vector.source)")

            // Messages alternate initiator, responder, ...; the first three are the XX handshake.
            for (index, message) in vector.messages.prefix(3).enumerated() {
                let (writer, reader) = index % 2 == 0 ? (initiator, responder) : (responder, initiator)
                let sent = try writer.writeMessage(payload: Hex.bytes(message.payload))
                #expect(Hex.string(sent) == message.ciphertext, "\(vector.source) message \(index)")
                let received = try reader.readMessage(Hex.bytes(message.ciphertext))
                #expect(Hex.string(received) == message.payload, "\(vector.source) message \(index)")
            }
            #expect(initiator.isComplete && responder.isComplete)
            #expect(initiator.remoteStaticKey == responderStatic.publicKey)
            #expect(responder.remoteStaticKey == initiatorStatic.publicKey)
            #expect(initiator.handshakeHash == responder.handshakeHash)
            if let hash = vector.handshake_hash {
                #expect(Hex.string(initiator.handshakeHash) == hash, "\(vector.source)")
            }

            let initiatorTransport = try initiator.split()
            let responderTransport = try responder.split()
            for (index, message) in vector.messages.enumerated().dropFirst(3) {
                let (writer, reader) = index % 2 == 0
                    ? (initiatorTransport, responderTransport) : (responderTransport, initiatorTransport)
                let sent = try writer.encrypt(Hex.bytes(message.payload))
                #expect(Hex.string(sent) == message.ciphertext, "\(vector.source) message \(index)")
                let received = try reader.decrypt(Hex.bytes(message.ciphertext))
                #expect(Hex.string(received) == message.payload, "\(vector.source) message \(index)")
            }
        }
    }

    /// Rekey (spec §4.2) against Python's noiseprotocol 0.3.1, continuing the cacophony vector: after its six
    /// messages, `rekey_outbound_cipher(); encrypt(b"after rekey")` on the initiator gives this ciphertext
    /// (printed by Vectors/crosscheck.py).
    @Test func rekeyMatchesNoiseprotocol() throws {
        let vector = try #require(try Self.loadVectors().first { $0.source.hasPrefix("haskell-cryptography/cacophony") })
        let initiator = NoiseHandshake(role: .initiator, staticKeyPair: .fromPrivate(vector.init_static),
                                       prologue: Hex.bytes(vector.init_prologue),
                                       ephemeral: .fromPrivate(vector.init_ephemeral))
        let responder = NoiseHandshake(role: .responder, staticKeyPair: .fromPrivate(vector.resp_static),
                                       prologue: Hex.bytes(vector.resp_prologue),
                                       ephemeral: .fromPrivate(vector.resp_ephemeral))
        for (index, message) in vector.messages.prefix(3).enumerated() {
            let (writer, reader) = index % 2 == 0 ? (initiator, responder) : (responder, initiator)
            _ = try reader.readMessage(writer.writeMessage(payload: Hex.bytes(message.payload)))
        }
        let (i, r) = (try initiator.split(), try responder.split())
        for (index, message) in vector.messages.enumerated().dropFirst(3) {
            let (writer, reader) = index % 2 == 0 ? (i, r) : (r, i)
            _ = try reader.decrypt(writer.encrypt(Hex.bytes(message.payload)))
        }
        i.rekeySending()
        r.rekeyReceiving()
        let sent = try i.encrypt(Array("after rekey".utf8))
        #expect(Hex.string(sent) == "2a20107beddb588342f3b623e4a4706059d6fd050442a450cfc9d0")
        #expect(try r.decrypt(sent) == Array("after rekey".utf8))
    }
}
