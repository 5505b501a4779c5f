import Testing
@testable import VishwaCrypto

/// HMAC-BLAKE2b and HKDF pinned to Python: `hmac.new(key, data, hashlib.blake2b).hexdigest()`.
struct NoiseSuiteTests {
    @Test func hmacMatchesPythonHmacWithBlake2b() {
        // hmac.new(b"Jefe", b"what do ya want for nothing?", hashlib.blake2b)
        #expect(Hex.string(NoiseSuite.hmac(key: Array("Jefe".utf8), data: Array("what do ya want for nothing?".utf8)))
            == "6ff884f8ddc2a6586b3c98a4cd6ebdf14ec10204b6710073eb5865ade37a2643"
             + "b8807c1335d107ecdb9ffeaeb6828c4625ba172c66379efcd222c2de11727ab4")
        // A key longer than the 128-byte block is hashed first: hmac.new(b"\xaa" * 131, ..., hashlib.blake2b)
        #expect(Hex.string(NoiseSuite.hmac(key: [UInt8](repeating: 0xaa, count: 131),
                                           data: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)))
            == "a54b2943b2a20227d41ca46c0945af09bc1faefb2f49894c23aebc557fb79c48"
             + "89dca74408dc865086667aedee4a3185c53a49c80b814c4c5813ea0c8b38a8f8")
        // hmac.new(b"", b"", hashlib.blake2b)
        #expect(Hex.string(NoiseSuite.hmac(key: [], data: []))
            == "198cd2006f66ff83fbbd913f78aca2251caf4f19fe9475aade8cf2091b99a684"
             + "66775177424f58286886cbae8229644cec747237d4b721735485e17372fdf59c")
    }

    @Test func hmacIsNotBlake2bKeyedMode() {
        let key = Array("Jefe".utf8), data = Array("what do ya want for nothing?".utf8)
        #expect(NoiseSuite.hmac(key: key, data: data) != BLAKE2b.hash(data, length: 64, key: key))
    }

    /// Noise §4.3 HKDF, ck = bytes(range(64)), ikm = b"\x42" * 32, computed with the same hmac/hashlib calls:
    /// t = H(ck, ikm); o1 = H(t, b"\x01"); o2 = H(t, o1 + b"\x02"); o3 = H(t, o2 + b"\x03").
    @Test func hkdfMatchesSpecConstruction() {
        let (o1, o2, o3) = NoiseSuite.hkdf(chainingKey: (0..<64).map { UInt8($0) },
                                           inputKeyMaterial: [UInt8](repeating: 0x42, count: 32))
        #expect(Hex.string(o1) == "4f19242fe62304587fea4a09e81062c80005ce6751b7d1ea7fd8ec66c0112a39"
                                + "8f5004937bfbdaef730a8f74f1fffa6ac7502d55657fda905bbe3911362f30cb")
        #expect(Hex.string(o2) == "df8149c58be58a547db0e18f9da0aafa5f46cb3715ca7c92008f11fe15b7510d"
                                + "269212fb289ee1210cab8611bfc9b2a682403376d39124e8fcac01b116a69354")
        #expect(Hex.string(o3) == "3cd9ab1810d6bf690d17ed8874c2f9be4da22655a13fcce0a00dbd535851878e"
                                + "d3ac0f97d7a72811eefcf276b7fdadee985910fca343db698380d62721e9ebdc")
    }
}
