import Foundation
import KirokuLog

/// Snapshots of write-model state, in the log's own environment (table `write-snapshots`: key →
/// JSON `{"version", "schema", "state"}`). Never a second source of truth: a snapshot can
/// always be dropped, and the next decision folds the key's history and takes a new one.
public struct Snapshots: Sendable {
    public let log: EventLog

    /// The snapshots of `log`.
    public init(log: EventLog) {
        self.log = log
    }

    static let tableName = "write-snapshots"

    struct Stored<State: Codable>: Codable {
        var version: UInt64
        var schema: Int
        var state: State
    }

    func table() async throws -> LogTable { try await log.table(named: Self.tableName) }

    /// The key's snapshot, when there is one of this schema (a damaged or other one is ignored).
    func load<State: Codable>(_: State.Type, key: String, schema: Int) async throws -> (version: UInt64, state: State)? {
        guard let bytes = try log.value(in: try await table(), for: Array(key.utf8)),
              let stored = try? JSONDecoder().decode(Stored<State>.self, from: Data(bytes)),
              stored.schema == schema else { return nil }
        return (stored.version, stored.state)
    }

    func save<State: Codable>(_ state: State, key: String, version: UInt64, schema: Int) async throws {
        let bytes = try JSONEncoder().encode(Stored(version: version, schema: schema, state: state))
        try await log.write([.put(try await table(), key: Array(key.utf8), value: Array(bytes))])
    }

    /// Drops the key's snapshot (the next decision folds its history).
    public func drop(key: String) async throws {
        try await log.write([.delete(try await table(), key: Array(key.utf8))])
    }

    /// The version the key's snapshot is at, whatever its schema (`nil`: none).
    public func version(of key: String) async throws -> UInt64? {
        guard let bytes = try log.value(in: try await table(), for: Array(key.utf8)) else { return nil }
        struct Header: Decodable { var version: UInt64 }
        return try? JSONDecoder().decode(Header.self, from: Data(bytes)).version
    }
}
