/// Operation codes of requests (docs/wire.md §4). Never renumber: add new codes.
public enum Operation: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case ping = 1
    case stat = 2
    case put = 3
    case get = 4
    case has = 5
    case delete = 6
    case list = 7
    case scrub = 8
    case backupPut = 9
    case backupGet = 10
    case backupList = 11
    case unpair = 12

    public var description: String {
        switch self {
        case .ping: return "PING"
        case .stat: return "STAT"
        case .put: return "PUT"
        case .get: return "GET"
        case .has: return "HAS"
        case .delete: return "DELETE"
        case .list: return "LIST"
        case .scrub: return "SCRUB"
        case .backupPut: return "BACKUP_PUT"
        case .backupGet: return "BACKUP_GET"
        case .backupList: return "BACKUP_LIST"
        case .unpair: return "UNPAIR"
        }
    }
}

/// Status codes of responses (docs/wire.md §5). A non-zero status carries a UTF-8 message as its body.
public enum Status: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case ok = 0
    case notFound = 1
    case corrupt = 2
    case quotaExceeded = 3
    case diskFull = 4
    case badRequest = 5
    case tooLarge = 6
    case unauthorized = 7
    case internalError = 8
    case badRange = 9
    case busy = 10

    public var description: String {
        switch self {
        case .ok: return "ok"
        case .notFound: return "not found"
        case .corrupt: return "corrupt"
        case .quotaExceeded: return "quota exceeded"
        case .diskFull: return "disk full"
        case .badRequest: return "bad request"
        case .tooLarge: return "too large"
        case .unauthorized: return "unauthorized"
        case .internalError: return "internal error"
        case .badRange: return "bad range"
        case .busy: return "busy"
        }
    }
}
