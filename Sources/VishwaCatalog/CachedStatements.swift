import Foundation
import GRDB

/// Statements compiled once per connection. GRDB compiles every `sql:` call afresh, through an
/// authorizer that records what it reads; on the mount's hot paths (a lookup, a create, an
/// unlink: a few statements each) that compiling was most of the CPU time.
extension Database {
    func run(sql: String, arguments: StatementArguments = StatementArguments()) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }
}

extension Row {
    static func fetchOne(cached db: Database, sql: String, arguments: StatementArguments = StatementArguments()) throws -> Row? {
        try fetchOne(db.cachedStatement(sql: sql), arguments: arguments)
    }

    static func fetchAll(cached db: Database, sql: String, arguments: StatementArguments = StatementArguments()) throws -> [Row] {
        try fetchAll(db.cachedStatement(sql: sql), arguments: arguments)
    }
}

extension DatabaseValueConvertible {
    static func fetchOne(cached db: Database, sql: String, arguments: StatementArguments = StatementArguments()) throws -> Self? {
        try fetchOne(db.cachedStatement(sql: sql), arguments: arguments)
    }

    static func fetchAll(cached db: Database, sql: String, arguments: StatementArguments = StatementArguments()) throws -> [Self] {
        try fetchAll(db.cachedStatement(sql: sql), arguments: arguments)
    }
}

/// The current row of a statement, read in place by column index. The mount's lookups and
/// listings read rows this way, not as `Row`s: GRDB makes a `Row` for every query (lowercasing
/// each column's name) and copies every row it returns, which was most of a lookup's time outside
/// SQLite itself.
struct Columns {
    let statement: SQLiteStatement

    /// An integer column; NULL reads as 0.
    func int(_ index: Int) -> Int64 { Int64(sqliteStatement: statement, index: CInt(index)) }

    func isNull(_ index: Int) -> Bool { Int64.fromStatement(statement, atUncheckedIndex: CInt(index)) == nil }

    func text(_ index: Int) -> String { String.fromStatement(statement, atUncheckedIndex: CInt(index)) ?? "" }

    /// A blob column; NULL reads as no bytes.
    func bytes(_ index: Int) -> [UInt8] { Data.fromStatement(statement, atUncheckedIndex: CInt(index)).map { [UInt8]($0) } ?? [] }
}

/// Steps a statement for `Database.rows`, through GRDB's cursor protocol so that GRDB still
/// sees every statement start and end.
private final class ColumnsCursor<Element>: DatabaseCursor {
    let _statement: Statement
    var _isDone = false
    let decode: (Columns) -> Element

    init(_ statement: Statement, arguments: StatementArguments, decode: @escaping (Columns) -> Element) throws {
        _statement = statement
        self.decode = decode
        try statement.setArguments(arguments)  // resets it first
    }

    func _element(sqliteStatement: SQLiteStatement) -> Element { decode(Columns(statement: sqliteStatement)) }
}

extension Database {
    /// Every row of a statement compiled once per connection, each decoded by `decode`. The
    /// statement is stepped to its end, which also ends the read it started.
    func rows<T>(cached sql: String, arguments: StatementArguments = StatementArguments(),
                 _ decode: (Columns) -> T) throws -> [T] {
        try withoutActuallyEscaping(decode) { decode in
            let cursor = try ColumnsCursor(cachedStatement(sql: sql), arguments: arguments, decode: decode)
            var rows: [T] = []
            try cursor.forEach { rows.append($0) }
            return rows
        }
    }
}
