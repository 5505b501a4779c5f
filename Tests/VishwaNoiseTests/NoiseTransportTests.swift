import Testing
@testable import VishwaCrypto

struct NoiseTransportTests {
    @Test func decryptsMessagesInOrderBothWays() throws {
        let (i, r) = try HandshakePair().transports()
        for n in 0..<50 {
            let outbound = Array("request \(n)".utf8), inbound = Array("response \(n)".utf8)
            #expect(try r.decrypt(i.encrypt(outbound)) == outbound)
            #expect(try i.decrypt(r.encrypt(inbound)) == inbound)
        }
        #expect(i.sentCount == 50 && i.receivedCount == 50 && r.sentCount == 50)
    }

    @Test func rejectsReplayedMessage() throws {
        let (i, r) = try HandshakePair().transports()
        let first = try i.encrypt([1])
        #expect(try r.decrypt(first) == [1])
        #expect(throws: NoiseError.authenticationFailed) { try r.decrypt(first) }
    }

    @Test func rejectsReorderedMessagesAndKeepsItsPlace() throws {
        let (i, r) = try HandshakePair().transports()
        let first = try i.encrypt([1]), second = try i.encrypt([2])
        #expect(throws: NoiseError.authenticationFailed) { try r.decrypt(second) }
        // A failed decryption does not advance the nonce (spec §5.1): the right message still opens.
        #expect(r.receivedCount == 0)
        #expect(try r.decrypt(first) == [1])
        #expect(try r.decrypt(second) == [2])
    }

    @Test func rejectsEveryFlippedBit() throws {
        let (i, r) = try HandshakePair().transports()
        let message = try i.encrypt(Array("attack at dawn".utf8))
        for bit in 0..<(message.count * 8) {
            var altered = message
            altered[bit / 8] ^= 1 << (bit % 8)
            #expect(throws: NoiseError.authenticationFailed) { try r.decrypt(altered) }
        }
        #expect(try r.decrypt(message) == Array("attack at dawn".utf8))
    }

    @Test func rejectsShortAndOversizedMessagesWithoutTrapping() throws {
        let (i, r) = try HandshakePair().transports()
        for count in 0..<16 {
            #expect(throws: NoiseError.messageTooShort(length: count, minimum: 16)) {
                try r.decrypt([UInt8](repeating: 0, count: count))
            }
        }
        #expect(throws: NoiseError.messageTooLarge(length: 65536)) { try r.decrypt([UInt8](repeating: 0, count: 65536)) }
        #expect(throws: NoiseError.messageTooLarge(length: 65536)) { try i.encrypt([UInt8](repeating: 0, count: 65520)) }
        #expect(try r.decrypt(i.encrypt([])) == [])
        let largest = [UInt8](repeating: 9, count: NoiseTransport.maxPlaintextLength)
        let sealed = try i.encrypt(largest)
        #expect(sealed.count == 65535)
        #expect(try r.decrypt(sealed) == largest)
    }

    @Test func encryptsAndDecryptsInPlace() throws {
        let (i, r) = try HandshakePair().transports()
        let plaintext = (0..<1000).map { UInt8(truncatingIfNeeded: $0) }
        var buffer = plaintext + [UInt8](repeating: 0, count: NoiseTransport.tagLength)
        try buffer.withUnsafeMutableBytes { try i.encryptInPlace($0) }
        #expect(Array(buffer.prefix(1000)) != plaintext)
        let count = try buffer.withUnsafeMutableBytes { try r.decryptInPlace($0) }
        #expect(count == 1000 && Array(buffer.prefix(count)) == plaintext)
        // The array forms interoperate with the in-place ones.
        #expect(try r.decrypt(i.encrypt(plaintext)) == plaintext)
    }

    /// Clear records (docs/wire.md §1.1): the tag covers associated data carried beside the
    /// message; any change to it, or none passed, fails, and a failure leaves the nonce in place.
    @Test func associatedDataIsBoundIntoTheTag() throws {
        let (i, r) = try HandshakePair().transports()
        let secret: [UInt8] = [1, 2, 3, 4, 5]
        let clear = (0..<20000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var message = secret + [UInt8](repeating: 0, count: NoiseTransport.tagLength)
        try message.withUnsafeMutableBytes { out in try clear.withUnsafeBytes { try i.encryptInPlace(out, ad: $0) } }
        func open(_ ad: [UInt8]) throws -> [UInt8] {
            var output = [UInt8](repeating: 0, count: message.count - NoiseTransport.tagLength)
            try message.withUnsafeBytes { bytes in
                try ad.withUnsafeBytes { ad in _ = try output.withUnsafeMutableBytes { try r.decrypt(bytes, ad: ad, into: $0) } }
            }
            return output
        }
        var altered = clear
        altered[12345] ^= 0x10
        #expect(throws: NoiseError.authenticationFailed) { try open(altered) }
        #expect(throws: NoiseError.authenticationFailed) { try open(Array(clear.dropLast())) }
        #expect(throws: NoiseError.authenticationFailed) { try open([]) }
        #expect(r.receivedCount == 0)
        #expect(try open(clear) == secret)
    }

    @Test func rekeyedDirectionsStayInStep() throws {
        let (i, r) = try HandshakePair().transports()
        i.rekeySending()
        r.rekeyReceiving()
        #expect(try r.decrypt(i.encrypt([42])) == [42])
        // The other direction is untouched.
        #expect(try i.decrypt(r.encrypt([43])) == [43])
        // A rekey on one side only breaks that direction.
        r.rekeySending()
        #expect(throws: NoiseError.authenticationFailed) { try i.decrypt(r.encrypt([44])) }
    }

    @Test func refusesTheReservedNonce() throws {
        let (i, r) = try HandshakePair().transports()
        i.setSendingNonce(UInt64.max - 1)
        _ = try i.encrypt([1])  // the last usable nonce, 2^64-2
        #expect(i.sentCount == UInt64.max)
        #expect(throws: NoiseError.nonceExhausted) { try i.encrypt([2]) }
        // Rekey still works at the limit: it uses nonce 2^64-1 by definition, not the counter.
        i.rekeySending()
        #expect(throws: NoiseError.nonceExhausted) { try i.encrypt([3]) }
        _ = r
    }
}
