/// Failures of the local catalog, one line each.
public enum CatalogError: Error, CustomStringConvertible {
    /// The database was written by a newer program (it has migrations this one does not know).
    case newerSchema(path: String, unknown: [String])
    case database(path: String, reason: String)
    case notFound(String)
    case conflict(String)
    /// A namespace operation's POSIX-level failure (the mount maps it to an errno).
    case namespace(NamespaceError)

    public var description: String {
        switch self {
        case .newerSchema(let path, let unknown):
            return "catalog \(path) was written by a newer vishwa (schema \(unknown.joined(separator: ", "))); upgrade vishwa"
        case .database(let path, let reason):
            return "catalog \(path): \(reason)"
        case .notFound(let what):
            return "\(what) not found in the catalog"
        case .conflict(let what):
            return what
        case .namespace(let error):
            return "namespace: \(error)"
        }
    }
}
