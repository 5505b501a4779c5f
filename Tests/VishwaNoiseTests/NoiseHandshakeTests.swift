import Testing
@testable import VishwaCrypto

struct NoiseHandshakeTests {
    @Test func completesAndDeliversPayloadsBothWays() throws {
        let pair = HandshakePair()
        let payloads = [Array("hello".utf8), Array("host says hi".utf8), Array(repeating: 7, count: 1000)]
        #expect(try pair.run(payloads: payloads) == payloads)
        #expect(pair.initiator.isComplete && pair.responder.isComplete)
        #expect(pair.initiator.remoteStaticKey == pair.responderStatic.publicKey)
        #expect(pair.responder.remoteStaticKey == pair.initiatorStatic.publicKey)
        #expect(pair.initiator.handshakeHash == pair.responder.handshakeHash)
        #expect(pair.initiator.handshakeHash.count == 64)

        let (i, r) = (try pair.initiator.split(), try pair.responder.split())
        #expect(i === (try pair.initiator.split()), "split() returns one transport, never two sharing nonces")
        #expect(i.remoteStaticKey == pair.responderStatic.publicKey)
        #expect(r.handshakeHash == i.handshakeHash)
        #expect(try r.decrypt(i.encrypt(Array("ping".utf8))) == Array("ping".utf8))
        #expect(try i.decrypt(r.encrypt(Array("pong".utf8))) == Array("pong".utf8))
    }

    @Test func exposesPeerKeyOnlyAfterItsMessageAuthenticated() throws {
        let pair = HandshakePair()
        _ = try pair.responder.readMessage(pair.initiator.writeMessage())
        #expect(pair.initiator.remoteStaticKey == nil && pair.responder.remoteStaticKey == nil)
        _ = try pair.initiator.readMessage(pair.responder.writeMessage())
        #expect(pair.initiator.remoteStaticKey == pair.responderStatic.publicKey)
        #expect(pair.responder.remoteStaticKey == nil)
        #expect(throws: NoiseError.handshakeIncomplete) { try pair.initiator.split() }
        _ = try pair.responder.readMessage(pair.initiator.writeMessage())
        #expect(pair.responder.remoteStaticKey == pair.initiatorStatic.publicKey)
    }

    /// Flipping any bit of any handshake message makes the handshake fail with an error. The first message
    /// is unauthenticated, so its damage surfaces when the initiator reads the second one.
    @Test(arguments: 0..<3)
    func rejectsTamperingAtEveryByte(step: Int) throws {
        let reference = HandshakePair()
        let length = try messages(of: reference)[step].count
        for position in 0..<length {
            let pair = HandshakePair()
            var failure: NoiseError?
            do {
                var message = try pair.initiator.writeMessage(payload: Array("one".utf8))
                if step == 0 { message[position] ^= 0x01 }
                _ = try pair.responder.readMessage(message)
                message = try pair.responder.writeMessage(payload: Array("two".utf8))
                if step == 1 { message[position] ^= 0x01 }
                _ = try pair.initiator.readMessage(message)
                message = try pair.initiator.writeMessage(payload: Array("three".utf8))
                if step == 2 { message[position] ^= 0x01 }
                _ = try pair.responder.readMessage(message)
            } catch {
                failure = error
            }
            #expect(failure == .authenticationFailed, "step \(step) byte \(position)")
            #expect(!(pair.initiator.isComplete && pair.responder.isComplete))
        }
    }

    @Test func rejectsWrongPrologue() throws {
        let pair = HandshakePair(responderPrologue: Array("vishwa/2".utf8))
        _ = try pair.responder.readMessage(pair.initiator.writeMessage())
        let second = try pair.responder.writeMessage()
        #expect(throws: NoiseError.authenticationFailed) { try pair.initiator.readMessage(second) }
        #expect(throws: NoiseError.handshakeFailed) { try pair.initiator.writeMessage() }
        #expect(throws: NoiseError.handshakeFailed) { try pair.initiator.split() }
    }

    /// Every truncation of every message, the empty message and an oversized one throw; nothing traps.
    @Test(arguments: 0..<3)
    func rejectsTruncatedEmptyAndOversizedMessages(step: Int) throws {
        let full = try messages(of: HandshakePair())[step]
        for length in 0..<full.count {
            let (pair, reader, message) = try pairReadyToRead(step: step, payload: [])
            let truncated = Array(message.prefix(length))
            #expect(throws: NoiseError.self, "step \(step) length \(length)") {
                // Step 0 carries its payload in clear, so a truncation that keeps the 32-byte key reads
                // fine and the damage shows when the initiator reads the reply.
                _ = try reader.readMessage(truncated)
                _ = try pair.initiator.readMessage(pair.responder.writeMessage())
            }
        }
        let (_, reader, _) = try pairReadyToRead(step: step, payload: [])
        #expect(throws: NoiseError.messageTooLarge(length: 65536)) {
            try reader.readMessage([UInt8](repeating: 0, count: 65536))
        }
        let (_, emptyReader, _) = try pairReadyToRead(step: step, payload: [])
        #expect(throws: NoiseError.messageTooShort(length: 0, minimum: [32, 96, 64][step])) {
            try emptyReader.readMessage([])
        }
    }

    @Test func randomBytesNeverTrapAReader() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let count = Int.random(in: 0...300, using: &generator)
            let junk = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let pair = HandshakePair()
            // The responder cannot tell junk from a first message (it is unauthenticated)…
            if (try? pair.responder.readMessage(junk)) != nil {
                _ = try? pair.responder.writeMessage()
            }
            // …but the initiator must reject junk as the second message.
            _ = try pair.initiator.writeMessage()
            #expect(throws: NoiseError.self) { try pair.initiator.readMessage(junk) }
        }
    }

    @Test func rejectsLowOrderEphemeralKey() throws {
        let pair = HandshakePair()
        // An all-zero "public key" gives an all-zero X25519 result, which Noise must refuse.
        _ = try pair.responder.readMessage([UInt8](repeating: 0, count: 32))
        #expect(throws: NoiseError.invalidRemoteKey) { try pair.responder.writeMessage() }
        #expect(throws: NoiseError.handshakeFailed) { try pair.responder.readMessage([]) }
    }

    @Test func rejectsOversizedPayloadWithoutDamagingTheHandshake() throws {
        let pair = HandshakePair()
        #expect(throws: NoiseError.messageTooLarge(length: 32 + 65504)) {
            try pair.initiator.writeMessage(payload: [UInt8](repeating: 1, count: 65504))
        }
        let largest = [UInt8](repeating: 1, count: 65535 - 32)
        #expect(try pair.responder.readMessage(pair.initiator.writeMessage(payload: largest)) == largest)
        #expect(throws: NoiseError.messageTooLarge(length: 65536)) {
            try pair.responder.writeMessage(payload: [UInt8](repeating: 2, count: 65536 - 96))
        }
        let payloads = try [pair.initiator.readMessage(pair.responder.writeMessage(payload: [2])),
                            pair.responder.readMessage(pair.initiator.writeMessage(payload: [3]))]
        #expect(payloads == [[2], [3]])
    }

    @Test func rejectsCallsOutOfTurn() throws {
        let pair = HandshakePair()
        #expect(throws: NoiseError.outOfTurn(expectedWrite: false)) { try pair.responder.writeMessage() }
        #expect(throws: NoiseError.outOfTurn(expectedWrite: true)) { try pair.initiator.readMessage([]) }
        _ = try pair.run()
        #expect(throws: NoiseError.handshakeComplete) { try pair.initiator.writeMessage() }
        #expect(throws: NoiseError.handshakeComplete) { try pair.responder.readMessage([]) }
    }

    @Test func generatesAFreshEphemeralPerHandshake() throws {
        let staticKey = X25519KeyPair.generate()
        let first = try NoiseHandshake(role: .initiator, staticKeyPair: staticKey, prologue: []).writeMessage()
        let second = try NoiseHandshake(role: .initiator, staticKeyPair: staticKey, prologue: []).writeMessage()
        #expect(first.count == 32 && second.count == 32 && first != second)
    }

    @Test func errorsDescribeThemselvesInOneLine() {
        let errors: [NoiseError] = [.messageTooLarge(length: 70000), .messageTooShort(length: 3, minimum: 32),
                                    .authenticationFailed, .invalidRemoteKey, .nonceExhausted,
                                    .outOfTurn(expectedWrite: true), .handshakeComplete, .handshakeIncomplete,
                                    .handshakeFailed]
        for error in errors {
            #expect(!error.description.isEmpty && !error.description.contains("\n"))
        }
    }

    // MARK: - Helpers

    /// The three messages of a clean handshake with empty payloads.
    private func messages(of pair: HandshakePair) throws -> [[UInt8]] {
        let m1 = try pair.initiator.writeMessage()
        _ = try pair.responder.readMessage(m1)
        let m2 = try pair.responder.writeMessage()
        _ = try pair.initiator.readMessage(m2)
        let m3 = try pair.initiator.writeMessage()
        return [m1, m2, m3]
    }

    /// A pair advanced until message `step` was written; returns its reader and the message.
    private func pairReadyToRead(step: Int, payload: [UInt8]) throws -> (HandshakePair, NoiseHandshake, [UInt8]) {
        let pair = HandshakePair()
        let m1 = try pair.initiator.writeMessage(payload: payload)
        if step == 0 { return (pair, pair.responder, m1) }
        _ = try pair.responder.readMessage(m1)
        let m2 = try pair.responder.writeMessage(payload: payload)
        if step == 1 { return (pair, pair.initiator, m2) }
        _ = try pair.initiator.readMessage(m2)
        return (pair, pair.responder, try pair.initiator.writeMessage(payload: payload))
    }
}
