/// Failures of the store's client operations, one line each, saying what and what to try.
public enum ClientError: Error, CustomStringConvertible {
    case notFound(String)
    case notAFile(String)
    case cannotRead(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    case noHosts
    case tooFewHosts(String)
    case uploadFailed(String)
    case unreadable(String)
    case corruptCatalog(String)
    case invalidTag(String)

    public var description: String {
        switch self {
        case .notFound(let what): return "\(what) not found in the store; see 'vishwa list'"
        case .notAFile(let path): return "\(path) is not a regular file"
        case .cannotRead(let path, let reason): return "cannot read \(path): \(reason)"
        case .cannotWrite(let path, let reason): return "cannot write \(path): \(reason)"
        case .noHosts: return "no hosts paired: run 'vishwa-shard invite' on a spare machine, then 'vishwa host add CODE'"
        case .tooFewHosts(let detail): return detail
        case .uploadFailed(let detail): return "upload failed: \(detail)"
        case .unreadable(let detail): return detail
        case .corruptCatalog(let detail): return "catalog problem: \(detail)"
        case .invalidTag(let tag): return "invalid tag '\(tag)': tags are non-empty and have no commas or control characters"
        }
    }
}
