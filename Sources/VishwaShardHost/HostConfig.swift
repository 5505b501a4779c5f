import Foundation
import VishwaCore
import VishwaTransport

/// `<dir>/config.json`: where the daemon listens and how much disk it keeps free.
public struct HostConfig: Codable, Sendable, Equatable {
    public var version: Int = 1
    /// `HOST:PORT` to listen on (default all interfaces, port 7420).
    public var listen: String
    /// The address devices should use, printed in pairing codes (default: `listen`, with a
    /// wildcard host replaced by this machine's name).
    public var advertise: String?
    /// Bytes of the disk never filled with shards.
    public var reserveBytes: Int
    /// Quota for vaults paired by an invite without `--quota` (nil: no quota).
    public var defaultQuotaBytes: Int?

    public static let defaultPort = 7420

    public init(listen: String = "0.0.0.0:\(HostConfig.defaultPort)", advertise: String? = nil,
                reserveBytes: Int = 64 << 20, defaultQuotaBytes: Int? = nil) {
        self.listen = listen
        self.advertise = advertise
        self.reserveBytes = reserveBytes
        self.defaultQuotaBytes = defaultQuotaBytes
    }

    enum CodingKeys: String, CodingKey {
        case version, listen, advertise
        case reserveBytes = "reserve_bytes"
        case defaultQuotaBytes = "default_quota_bytes"
    }

    public static func path(in dir: String) -> String { dir + "/config.json" }

    public static func load(from dir: String) throws(HostError) -> HostConfig {
        let file = path(in: dir)
        let bytes: [UInt8]
        do {
            bytes = try DurableFile.read(file, limit: 1 << 20)
        } catch {
            if error.errno == ENOENT { throw .notInitialized(dir: dir) }
            throw .file(error)
        }
        do {
            let config = try JSONDecoder().decode(HostConfig.self, from: Data(bytes))
            guard HostAddress(parsing: config.listen) != nil else { throw HostError.invalidConfig("listen '\(config.listen)' is not HOST:PORT") }
            return config
        } catch let error as HostError {
            throw error
        } catch {
            throw .corrupt(path: file, reason: "not valid JSON of a host configuration (\(error))")
        }
    }

    public func save(to dir: String) throws(HostError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = (try? encoder.encode(self)) ?? Data()
        do { try DurableFile.replace(Self.path(in: dir), bytes: [UInt8](data) + [10], mode: 0o644) } catch { throw .file(error) }
    }
}
