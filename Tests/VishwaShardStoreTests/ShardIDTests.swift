import TestSupport
import Testing
@testable import VishwaShardStore

@Suite(.ownThreads) struct ShardIDTests {
    @Test func roundTripsThroughLowercaseHex() throws {
        let bytes: [UInt8] = (0..<16).map { UInt8($0 * 17) }
        let id = try #require(ShardID(bytes: bytes))
        #expect(id.bytes == bytes)
        #expect(id.description == "00112233445566778899aabbccddeeff")
        #expect(ShardID(hex: id.description) == id)
        #expect(id.prefix == "00")
    }

    @Test(arguments: [
        "", "..", "../x", "/", ".", "../../../../../../../../etc/passwd",
        "00112233445566778899aabbccddeef",     // 31 digits
        "00112233445566778899aabbccddeeff0",   // 33 digits
        "00112233445566778899AABBCCDDEEFF",    // uppercase
        "00112233445566778899aabbccddeeF0",    // one uppercase digit
        "0011223344556677/899aabbccddeeff",    // a slash at the right length
        "0011223344556677..9aabbccddeeff0",    // dots at the right length
        " 0112233445566778899aabbccddeeff",    // a space
        "0x112233445566778899aabbccddeeff",
        "00112233445566778899aabbccddeeg0",
        "00112233445566778899aabbccddeé0",    // non-ASCII, 32 bytes of UTF-8
    ])
    func rejectsAnythingButThirtyTwoLowercaseHexDigits(text: String) {
        #expect(ShardID(hex: text) == nil)
    }

    @Test func rejectsWrongByteCounts() {
        #expect(ShardID(bytes: [UInt8](repeating: 1, count: 15)) == nil)
        #expect(ShardID(bytes: [UInt8](repeating: 1, count: 17)) == nil)
        #expect(ShardID(bytes: []) == nil)
    }

    @Test func ordersLikeItsBytesAndItsText() {
        var generator = SystemRandomNumberGenerator()
        let ids = (0..<200).map { _ in randomID(using: &generator) }
        let byID = ids.sorted()
        #expect(byID.map(\.description) == ids.map(\.description).sorted())
        #expect(byID.map(\.bytes) == ids.map(\.bytes).sorted { $0.lexicographicallyPrecedes($1) })
    }
}
