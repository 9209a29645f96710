import Foundation
import Log

/// Reads a projection's state: the active version's, in short read transactions.
public struct ProjectionReader: Sendable {
    /// The projection's name.
    public let name: String
    /// The version read.
    public let version: Int
    let store: KeyValueStore

    /// The bytes under `key` in `table`, or `nil`.
    public func bytes(_ key: String, in table: String) throws -> [UInt8]? {
        try store.read { try $0.get(Array(key.utf8), in: table) }
    }

    /// The JSON value under `key` in `table`, decoded, or `nil`.
    public func get<Value: Decodable>(_ type: Value.Type, _ key: String, in table: String) throws -> Value? {
        try bytes(key, in: table).map { try JSONDecoder().decode(Value.self, from: Data($0)) }
    }

    /// Up to `limit` entries of `table` whose keys start with `prefix`, after `after`.
    public func entries(in table: String, prefix: String = "", after: String? = nil, limit: Int = 1000) throws -> [(key: String, value: [UInt8])] {
        try store.read { txn in
            try txn.entries(in: table, prefix: Array(prefix.utf8), after: after.map { Array($0.utf8) }, limit: limit)
                .map { (String(decoding: $0.key, as: UTF8.self), $0.value) }
        }
    }
}
