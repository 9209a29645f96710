import Foundation
import KirokuLog

/// A projection's state inside the transaction that applies a batch: bytes or `Codable`
/// values under string keys, in the projection's tables. Valid only during `apply`.
public struct ProjectionState {
    package let transaction: KeyValueTransaction

    /// The bytes under `key` in `table`, or `nil`.
    public func bytes(_ key: String, in table: String) throws -> [UInt8]? {
        try transaction.get(Array(key.utf8), in: table)
    }

    /// Stores bytes under `key` in `table`.
    public func putBytes(_ value: [UInt8], _ key: String, in table: String) throws {
        try transaction.put(Array(key.utf8), value, in: table)
    }

    /// The JSON value under `key` in `table`, decoded, or `nil`.
    public func get<Value: Decodable>(_ type: Value.Type, _ key: String, in table: String) throws -> Value? {
        try bytes(key, in: table).map { try JSONDecoder().decode(Value.self, from: Data($0)) }
    }

    /// Stores `value` as JSON under `key` in `table`.
    public func put<Value: Encodable>(_ value: Value, _ key: String, in table: String) throws {
        try putBytes(Array(try JSONEncoder().encode(value)), key, in: table)
    }

    /// Removes `key` from `table`.
    public func delete(_ key: String, in table: String) throws {
        try transaction.delete(Array(key.utf8), in: table)
    }

    /// Up to `limit` entries of `table` whose keys start with `prefix`, after `after`.
    public func entries(in table: String, prefix: String = "", after: String? = nil, limit: Int = 1000) throws -> [(key: String, value: [UInt8])] {
        try transaction.entries(in: table, prefix: Array(prefix.utf8), after: after.map { Array($0.utf8) }, limit: limit)
            .map { (String(decoding: $0.key, as: UTF8.self), $0.value) }
    }
}
