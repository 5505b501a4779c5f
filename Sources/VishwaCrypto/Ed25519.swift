import CSodium

/// Ed25519 signing key pairs (`crypto_sign_seed_keypair`, `crypto_sign_detached`).
///
/// A vault signs with one to prove to a host that it holds the vault's master key without
/// showing it (docs/wire.md §2).
public struct Ed25519KeyPair: Sendable {
    public static let seedLength = Int(crypto_sign_SEEDBYTES)  // 32
    public static let publicKeyLength = Int(crypto_sign_PUBLICKEYBYTES)  // 32
    public static let signatureLength = Int(crypto_sign_BYTES)  // 64

    public let publicKey: [UInt8]
    /// libsodium's 64-byte secret key (the seed followed by the public key).
    private let secretKey: SecretBytes

    /// The key pair a 32-byte `seed` determines.
    public init(seed: SecretBytes) {
        precondition(seed.count == Self.seedLength)
        Sodium.ensureInitialized()
        var pk = [UInt8](repeating: 0, count: Self.publicKeyLength)
        secretKey = SecretBytes(count: Int(crypto_sign_SECRETKEYBYTES)) { sk in
            seed.withUnsafeBytes { seed in
                let status = crypto_sign_seed_keypair(&pk, sk.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                                      seed.baseAddress!.assumingMemoryBound(to: UInt8.self))
                precondition(status == 0, "crypto_sign_seed_keypair failed")
            }
        }
        publicKey = pk
    }

    /// A fresh random key pair.
    public static func generate() -> Ed25519KeyPair {
        Ed25519KeyPair(seed: .random(count: seedLength))
    }

    /// The 64-byte detached signature of `message`.
    public func sign(_ message: [UInt8]) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: Self.signatureLength)
        secretKey.withUnsafeBytes { sk in
            message.withUnsafeBytes { m in
                let status = crypto_sign_detached(&signature, nil, m.bytePointer, UInt64(m.count),
                                                  sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
                precondition(status == 0, "crypto_sign_detached failed")
            }
        }
        return signature
    }

    /// Whether `signature` is `publicKey`'s signature of `message`. False for any input of the
    /// wrong length, a non-canonical signature or a small-order key (libsodium refuses those).
    public static func verify(signature: [UInt8], of message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard signature.count == signatureLength, publicKey.count == publicKeyLength else { return false }
        Sodium.ensureInitialized()
        return message.withUnsafeBytes { m in
            crypto_sign_verify_detached(signature, m.bytePointer, UInt64(m.count), publicKey) == 0
        }
    }
}
