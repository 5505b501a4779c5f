import VishwaCore
import VishwaCrypto

/// A one-time invitation from a host: where it listens, its public key (which the device pins),
/// and a secret that proves the device was invited (docs/wire.md §6).
///
///     vwpair1/<host:port>/<Crockford base32 of host key (32) ‖ secret (32) ‖ checksum (4)>
///
/// The checksum is the first 4 bytes of BLAKE2b-256 keyed with `vishwa pairing`, so a mistyped
/// or truncated code is caught before any connection is made.
public struct PairingCode: Sendable, Equatable, CustomStringConvertible {
    public let address: HostAddress
    public let hostKey: [UInt8]
    public let secret: [UInt8]

    static let prefix = "vwpair1/"

    public init(address: HostAddress, hostKey: [UInt8], secret: [UInt8]) {
        precondition(hostKey.count == 32 && secret.count == 32)
        self.address = address
        self.hostKey = hostKey
        self.secret = secret
    }

    public var description: String {
        Self.prefix + address.description + "/" + Base32.encode(hostKey + secret + Self.checksum(hostKey + secret))
    }

    /// Parses a code; the error says what is wrong with it in one line.
    public init(parsing text: String) throws(PairingCodeError) {
        let trimmed = text.trimmingWhitespace
        guard trimmed.hasPrefix(Self.prefix) else { throw .init("it does not start with '\(Self.prefix)'") }
        let rest = trimmed.dropFirst(Self.prefix.count)
        guard let slash = rest.lastIndex(of: "/") else { throw .init("it has no key part") }
        guard let address = HostAddress(parsing: String(rest[..<slash])) else {
            throw .init("'\(rest[..<slash])' is not a HOST:PORT address")
        }
        let bytes: [UInt8]
        do {
            bytes = try Base32.decode(String(rest[rest.index(after: slash)...]))
        } catch {
            throw .init("its key part is not valid base32")
        }
        guard bytes.count == 68 else { throw .init("its key part has \(bytes.count) bytes, expected 68 (truncated?)") }
        guard Array(bytes[64...]) == Self.checksum(Array(bytes[0..<64])) else {
            throw .init("its checksum does not match (mistyped?)")
        }
        self.init(address: address, hostKey: Array(bytes[0..<32]), secret: Array(bytes[32..<64]))
    }

    static func checksum(_ bytes: [UInt8]) -> [UInt8] {
        Array(BLAKE2b.hash(bytes, length: 32, key: Array("vishwa pairing".utf8)).prefix(4))
    }
}

public struct PairingCodeError: Error, Equatable, CustomStringConvertible {
    public let reason: String
    init(_ reason: String) { self.reason = reason }
    public var description: String { "invalid pairing code: \(reason)" }
}

extension String {
    var trimmingWhitespace: Substring {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s = s.dropFirst() }
        while let c = s.last, c.isWhitespace { s = s.dropLast() }
        return s
    }
}
