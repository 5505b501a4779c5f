import VishwaWire

/// Why a request to a host did not get an answer, or got a failure. One line each, naming the host.
public enum TransportError: Error, Equatable, CustomStringConvertible {
    case invalidAddress(String)
    case connectFailed(address: String, reason: String)
    case handshakeFailed(address: String, reason: String)
    /// The host refused this device (not paired, pairing code used or expired, …).
    case refused(address: String, reason: String)
    case timedOut(address: String, operation: String, seconds: Double)
    case connectionClosed(address: String)
    /// The host answered with a failure status.
    case host(address: String, status: Status, message: String)
    case malformedReply(address: String, reason: String)

    public var description: String {
        switch self {
        case .invalidAddress(let text):
            return "invalid host address '\(text)': expected HOST:PORT"
        case .connectFailed(let address, let reason):
            return "cannot connect to \(address): \(reason)"
        case .handshakeFailed(let address, let reason):
            return "secure handshake with \(address) failed: \(reason)"
        case .refused(let address, let reason):
            return "\(address) refused this device: \(reason)"
        case .timedOut(let address, let operation, let seconds):
            return "\(operation) to \(address) timed out after \(seconds) s"
        case .connectionClosed(let address):
            return "connection to \(address) closed"
        case .host(let address, let status, let message):
            return "\(address): \(status)\(message.isEmpty ? "" : ": " + message)"
        case .malformedReply(let address, let reason):
            return "malformed reply from \(address): \(reason)"
        }
    }

    /// The host status behind a failure, if the host answered.
    public var status: Status? {
        if case .host(_, let status, _) = self { return status }
        return nil
    }
}

/// A host's network address, `HOST:PORT` (`[v6]:PORT` for IPv6 literals).
public struct HostAddress: Sendable, Hashable, Codable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`; nil when the port is missing or out of range.
    public init?(parsing text: String, defaultPort: Int? = nil) {
        // Host names and address literals are ASCII (international names travel as punycode);
        // anything else could merge with the ':' into one grapheme and not print back.
        guard text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return nil }
        var host = Substring(text)
        var portText: Substring?
        let bracketed = host.hasPrefix("[")
        if bracketed {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if rest.hasPrefix(":") { portText = rest.dropFirst() } else if !rest.isEmpty { return nil }
        } else if let colon = host.lastIndex(of: ":") {
            portText = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        // Brackets only delimit an IPv6 literal, which is the only host that may contain ':'.
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" || $0 == "[" || $0 == "]" }),
              bracketed || !host.contains(":") else { return nil }
        let port: Int
        if let portText {
            guard let p = Int(portText), (0...65535).contains(p) else { return nil }  // 0: any port, for listening
            port = p
        } else {
            guard let defaultPort else { return nil }
            port = defaultPort
        }
        self.init(host: String(host), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
