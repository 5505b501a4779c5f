import TestSupport
import Testing
import VishwaCore
@testable import VishwaCrypto

/// Known answers computed independently with Python (hashlib, PyNaCl); they pin our wrappers'
/// argument order and lengths, not libsodium itself.
@Suite(.ownThreads) struct PrimitiveTests {
    @Test func blake2bMatchesPythonHashlib() {
        #expect(Hex.encode(BLAKE2b.hash(Array("abc".utf8), length: 32))
                == "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319")
        #expect(Hex.encode(BLAKE2b.hash(Array("abc".utf8), length: 32, key: Array("k".utf8)))
                == "12f0b4a482a321476483eac3387d86e810573152916fb35bf7a6b9951f221db3")
    }

    @Test func xchachaMatchesPyNaCl() throws {
        let key = SecretBytes(copying: (0..<32).map { UInt8($0) })
        let sealed = XChaCha20Poly1305.seal(Array("hello".utf8), nonce: [UInt8](repeating: 0, count: 24),
                                            additionalData: Array("ad".utf8), key: key)
        #expect(Hex.encode(sealed) == "fd63e0ab830fa6af2bca7bb68a3dd04f8736e090fb")
        let opened = try XChaCha20Poly1305.open(sealed, nonce: [UInt8](repeating: 0, count: 24),
                                                additionalData: Array("ad".utf8), key: key)
        #expect(opened.exposedCopy() == Array("hello".utf8))
    }

    @Test func xchachaRejectsAnyAlteration() {
        let key = SecretBytes.random(count: 32)
        let nonce = Random.bytes(24)
        let sealed = XChaCha20Poly1305.seal(Array("secret".utf8), nonce: nonce, additionalData: [1, 2], key: key)
        for i in sealed.indices {
            var bad = sealed
            bad[i] ^= 0x01
            #expect(throws: CryptoError.authenticationFailed) {
                try XChaCha20Poly1305.open(bad, nonce: nonce, additionalData: [1, 2], key: key)
            }
        }
        #expect(throws: CryptoError.authenticationFailed) {
            try XChaCha20Poly1305.open(sealed, nonce: nonce, additionalData: [1, 3], key: key)
        }
        #expect(throws: CryptoError.self) { try XChaCha20Poly1305.open([1, 2, 3], nonce: nonce, additionalData: [], key: key) }
    }

    /// Around and above the size where the AEAD moves from libsodium to OpenSSL (ChaChaPoly's
    /// `bulkBytes`), with large additional data too (a clear record's): BLAKE2b-256 of what PyNaCl
    /// seals, for message bytes i % 251 and additional-data bytes 7i % 253.
    @Test(arguments: [(1023, 0, "0fdf1bb7a444a205a3f455a65d914416ebe2f6cd1800ed79a4c3b917558f82b4"),
                      (1024, 0, "15e9f76f04c2be90364c76ef5681d1f928d83694aae2b09839525dc75676fdcd"),
                      (70000, 0, "d474aa42104afc33dcad42f7ad5ae96a2e25df5d44d9168737b649fc0b40d19f"),
                      (0, 3000, "a859787d715ba3148bf3c31ec7f8b6c54e4988f29f9c649775aba10f6602b19f"),
                      (5000, 2000, "88f18240111c56d90e35a1abe97260f7034f008ba814428218a897c2a3fc636d")])
    func xchachaMatchesPyNaClAtEverySize(size: Int, adSize: Int, expected: String) throws {
        let key = SecretBytes(copying: (0..<32).map { UInt8($0) }), nonce = (0..<24).map { UInt8($0) }
        let message = (0..<size).map { UInt8($0 % 251) }, ad = (0..<adSize).map { UInt8(($0 * 7) % 253) }
        let sealed = XChaCha20Poly1305.seal(message, nonce: nonce, additionalData: ad, key: key)
        #expect(Hex.encode(BLAKE2b.hash(sealed)) == expected)
        #expect(try XChaCha20Poly1305.open(sealed, nonce: nonce, additionalData: ad, key: key).exposedCopy() == message)
        for index in [0, sealed.count / 2, sealed.count - 1] {
            var bad = sealed
            bad[index] ^= 0x80
            #expect(throws: CryptoError.authenticationFailed) {
                try XChaCha20Poly1305.open(bad, nonce: nonce, additionalData: ad, key: key)
            }
        }
        if adSize > 0 {
            var badAD = ad
            badAD[adSize - 1] ^= 1
            #expect(throws: CryptoError.authenticationFailed) {
                try XChaCha20Poly1305.open(sealed, nonce: nonce, additionalData: badAD, key: key)
            }
        }
    }

    /// Noise's ChaChaPoly (nonce 5) on both sides of `bulkBytes`; a failed open leaves zeros.
    @Test(arguments: [(1000, 0, "b2a37b8bf6c0843b98c573dc88d59cb414d6bfabdbbea1a8232be0a9e8a2557e"),
                      (1024, 0, "858036304606dc79cc54f0d5742530b07656350667dc2bed7ea55b307cc0fb1a"),
                      (70000, 0, "fdfab0d00534e6e3a59d38275d617459d8a3927373ad8b020585903827ccff60"),
                      (0, 65536, "2b81a1a0583a31896aac440b4243bc3ee17f672b2da049584b3515c36a7b752b")])
    func noiseChaChaPolyMatchesPyNaCl(size: Int, adSize: Int, expected: String) {
        let key = (0..<32).map { UInt8($0) }
        var text = (0..<size).map { UInt8($0 % 251) }
        let ad = (0..<adSize).map { UInt8(($0 * 7) % 253) }
        var tag = [UInt8](repeating: 0, count: 16)
        key.withUnsafeBytes { key in
            ad.withUnsafeBytes { ad in
                text.withUnsafeMutableBytes { text in
                    tag.withUnsafeMutableBytes { tag in NoiseSuite.encrypt(key: key, nonce: 5, ad: ad, text: text, tag: tag) }
                }
            }
        }
        #expect(Hex.encode(BLAKE2b.hash(text + tag)) == expected)
        guard size > 0 else { return }
        text[size / 2] ^= 1
        let opened = key.withUnsafeBytes { key in
            ad.withUnsafeBytes { ad in
                text.withUnsafeMutableBytes { text in
                    tag.withUnsafeBytes { tag in NoiseSuite.decrypt(key: key, nonce: 5, ad: ad, text: text, tag: tag) }
                }
            }
        }
        #expect(!opened && text.allSatisfy { $0 == 0 })
    }

    @Test func x25519PublicKeyMatchesPyNaCl() {
        let pair = X25519KeyPair(secretKey: SecretBytes(copying: [UInt8](repeating: 1, count: 32)))
        #expect(Hex.encode(pair.publicKey) == "a4e09292b651c278b9772c569f5fa9bb13d906b46ab68c9df9dc2b4409f8a209")
    }

    @Test func x25519AgreesAndRejectsLowOrderPoints() throws {
        let a = X25519KeyPair.generate()
        let b = X25519KeyPair.generate()
        #expect(try a.sharedSecret(with: b.publicKey).isEqual(to: try b.sharedSecret(with: a.publicKey)))
        #expect(throws: CryptoError.self) { try a.sharedSecret(with: [UInt8](repeating: 0, count: 32)) }
        #expect(throws: CryptoError.self) { try a.sharedSecret(with: [1, 2, 3]) }
    }

    /// RFC 8032 §7.1, TEST 1 (empty message), and rejection of altered input.
    @Test func ed25519MatchesTheRFCAndRejectsAlterations() throws {
        let seed = Hex.decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")!
        let pair = Ed25519KeyPair(seed: SecretBytes(copying: seed))
        #expect(Hex.encode(pair.publicKey) == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        let signature = pair.sign([])
        #expect(Hex.encode(signature) == "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
                + "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
        #expect(Ed25519KeyPair.verify(signature: signature, of: [], publicKey: pair.publicKey))
        #expect(!Ed25519KeyPair.verify(signature: signature, of: [0], publicKey: pair.publicKey))
        var flipped = signature
        flipped[0] ^= 1
        #expect(!Ed25519KeyPair.verify(signature: flipped, of: [], publicKey: pair.publicKey))
        #expect(!Ed25519KeyPair.verify(signature: signature, of: [], publicKey: Ed25519KeyPair.generate().publicKey))
        #expect(!Ed25519KeyPair.verify(signature: Array(signature.dropLast()), of: [], publicKey: pair.publicKey))
        // The identity point (small order) is no key, whatever the signature.
        let identity = [1] + [UInt8](repeating: 0, count: 31)
        #expect(!Ed25519KeyPair.verify(signature: [UInt8](repeating: 0, count: 64), of: [], publicKey: identity))
    }

    @Test func subkeysDifferPerPurposeAndAreStable() {
        let master = SecretBytes(copying: [UInt8](repeating: 9, count: 32))
        let keys = SubkeyPurpose.allCases.map { KeyDerivation.subkey($0, from: master).exposedCopy() }
        #expect(Set(keys).count == keys.count)
        #expect(KeyDerivation.subkey(.catalogBackup, from: master).exposedCopy() == keys[1])
    }

    @Test func argon2idDependsOnPassphraseAndSalt() throws {
        let salt = [UInt8](repeating: 3, count: 16)
        let a = try Argon2id.deriveKey(passphrase: Array("one".utf8), salt: salt, cost: .interactive)
        let b = try Argon2id.deriveKey(passphrase: Array("one".utf8), salt: salt, cost: .interactive)
        let c = try Argon2id.deriveKey(passphrase: Array("two".utf8), salt: salt, cost: .interactive)
        #expect(a.isEqual(to: b))
        #expect(!a.isEqual(to: c))
        #expect(throws: CryptoError.self) { try Argon2id.deriveKey(passphrase: [1], salt: [1], cost: .interactive) }
    }
}
