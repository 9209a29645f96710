import Foundation
import KirokuLog

/// Reads a projection's state, in short read transactions.
///
/// A reader from ``ProjectionRunner/reader(_:)`` **follows the active version**: each read goes
/// to the version active at that moment, so a reader kept across a blue/green switch reads the
/// new version once it is switched on, and never reads a version that was pruned. A reader from
/// ``ProjectionCatalog/withReader(_:tables:_:)`` is **pinned** to the version it opened, for the
/// length of the call.
public struct ProjectionReader: Sendable {
    /// Where the reader's version comes from.
    enum Source: Sendable {
        /// One version, opened by the caller.
        case pinned(version: Int, store: KeyValueStore)
        /// Whichever version is active when a read starts.
        case following(@Sendable () throws -> (version: Int, store: KeyValueStore))
    }

    /// The projection's name.
    public let name: String
    let source: Source

    init(name: String, source: Source) {
        self.name = name
        self.source = source
    }

    /// The version reads go to now (for a following reader, the active one).
    public var version: Int {
        switch source {
        case .pinned(let version, _): return version
        case .following(let resolve): return (try? resolve().version) ?? 0
        }
    }

    /// Whether reads follow the active version across switches (`false`: pinned to ``version``).
    public var followsActiveVersion: Bool {
        if case .following = source { return true }
        return false
    }

    /// Runs `body` with the state store of the version to read. A following reader whose version
    /// was retired and closed between resolving it and reading it resolves again, once.
    package func withStore<T>(_ body: (KeyValueStore) throws -> T) throws -> T {
        switch source {
        case .pinned(_, let store):
            return try body(store)
        case .following(let resolve):
            do {
                return try body(try resolve().store)
            } catch let error as KirokuError where error.code == .closed {
                return try body(try resolve().store)
            }
        }
    }

    /// The bytes under `key` in `table`, or `nil`.
    public func bytes(_ key: String, in table: String) throws -> [UInt8]? {
        try withStore { store in try store.read { try $0.get(Array(key.utf8), in: table) } }
    }

    /// The JSON value under `key` in `table`, decoded, or `nil`.
    public func get<Value: Decodable>(_ type: Value.Type, _ key: String, in table: String) throws -> Value? {
        try bytes(key, in: table).map { try JSONDecoder().decode(Value.self, from: Data($0)) }
    }

    /// Up to `limit` entries of `table` whose keys start with `prefix`, after `after`.
    public func entries(in table: String, prefix: String = "", after: String? = nil, limit: Int = 1000) throws -> [(key: String, value: [UInt8])] {
        try withStore { store in
            try store.read { txn in
                try txn.entries(in: table, prefix: Array(prefix.utf8), after: after.map { Array($0.utf8) }, limit: limit)
                    .map { (String(decoding: $0.key, as: UTF8.self), $0.value) }
            }
        }
    }
}
