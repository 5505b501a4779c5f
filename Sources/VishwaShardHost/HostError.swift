import VishwaCore

/// Failures of the host daemon's own state (identity, configuration, pairing registry).
public enum HostError: Error, Equatable, CustomStringConvertible {
    case notInitialized(dir: String)
    case alreadyInitialized(dir: String)
    case corrupt(path: String, reason: String)
    case file(FileError)
    case invalidConfig(String)
    case alreadyServing(dir: String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .notInitialized(let dir):
            return "\(dir) is not a vishwa-shard directory: run 'vishwa-shard init --dir \(dir)' first"
        case .alreadyInitialized(let dir):
            return "\(dir) already holds a host identity; refusing to replace it"
        case .corrupt(let path, let reason):
            return "\(path) is corrupt: \(reason)"
        case .file(let error):
            return error.description
        case .invalidConfig(let reason):
            return "invalid configuration: \(reason)"
        case .alreadyServing(let dir):
            return "another vishwa-shard is already serving \(dir)"
        case .invalidArgument(let reason):
            return reason
        }
    }
}
