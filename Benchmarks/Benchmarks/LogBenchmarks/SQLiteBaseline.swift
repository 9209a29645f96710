// What a Swift service would use instead: SQLite through GRDB 7, with the log's semantics.
import Foundation
import GRDB

/// An event log in SQLite: a global autoincrement position, a unique (key, version), and the
/// optimistic-concurrency check (the key's current version) inside each write transaction.
/// WAL mode; `synchronous=FULL` (durable at each commit, like Kiroku's `.full`) or `NORMAL`.
final class SQLiteLog: Sendable {
    let pool: DatabasePool

    init(path: String, synchronous: String) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous=\(synchronous)")
        }
        pool = try DatabasePool(path: path + ".sqlite", configuration: configuration)
        try pool.write { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS events(
                    position INTEGER PRIMARY KEY AUTOINCREMENT,
                    key TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL,
                    timestamp REAL NOT NULL, payload BLOB NOT NULL,
                    UNIQUE(key, version))
                """)
        }
    }

    /// Appends one event to `key` if its current version is `expected` (`nil`: any); returns
    /// the position and version.
    @discardableResult
    func append(key: String, type: String, payload: Data, expected: Int64? = nil) async throws -> (Int64, Int64) {
        try await pool.write { db in
            let current = try Int64.fetchOne(db, sql: "SELECT MAX(version) FROM events WHERE key = ?", arguments: [key]) ?? 0
            if let expected, expected != current { throw VersionConflict(expected: expected, actual: current) }
            try db.execute(sql: "INSERT INTO events(key, version, type, timestamp, payload) VALUES (?, ?, ?, ?, ?)",
                           arguments: [key, current + 1, type, Date().timeIntervalSince1970, payload])
            return (db.lastInsertedRowID, current + 1)
        }
    }

    /// Appends one event to each of `keys`, in that order (a key may repeat), in one
    /// transaction: each key's current version is read and checked, as in `append`.
    func appendBatch(keys: [String], payload: Data) throws {
        try pool.write { db in
            let current = try db.makeStatement(sql: "SELECT MAX(version) FROM events WHERE key = ?")
            let insert = try db.makeStatement(sql: "INSERT INTO events(key, version, type, timestamp, payload) VALUES (?, ?, ?, ?, ?)")
            var versions: [String: Int64] = [:]
            for key in keys {
                let version = try versions[key] ?? Int64.fetchOne(current, arguments: [key]) ?? 0
                versions[key] = version + 1
                try insert.execute(arguments: [key, version + 1, "Benchmarked", Date().timeIntervalSince1970, payload])
            }
        }
    }

    /// A key's events from `version`, by the (key, version) index.
    func read(key: String, from version: Int64 = 1, limit: Int) throws -> [Row] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT position, key, version, type, timestamp, payload FROM events WHERE key = ? AND version >= ? ORDER BY version LIMIT ?",
                             arguments: [key, version, limit])
        }
    }

    /// Up to `limit` events in position order from `position`, by the primary key.
    func readAll(from position: Int64, limit: Int) throws -> [Row] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT position, key, version, type, timestamp, payload FROM events WHERE position >= ? ORDER BY position LIMIT ?",
                             arguments: [position, limit])
        }
    }

    struct VersionConflict: Error {
        let expected: Int64
        let actual: Int64
    }
}
