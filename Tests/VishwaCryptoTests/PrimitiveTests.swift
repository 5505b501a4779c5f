import Testing
import VishwaCore
@testable import VishwaCrypto

/// Known answers computed independently with Python (hashlib, PyNaCl); they pin our wrappers'
/// argument order and lengths, not libsodium itself.
@Suite struct PrimitiveTests {
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
