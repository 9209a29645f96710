import CLMDB

/// A transaction on a ``KeyValueStore``: bytes under keys in named tables. Valid only inside
/// the closure that received it.
public struct KeyValueTransaction {
    let txn: Transaction
    let tables: TableHandles

    /// The value under `key` in `table`, or `nil`.
    public func get(_ key: [UInt8], in table: String) throws -> [UInt8]? {
        let dbi = try tables.handle(table)
        guard !key.isEmpty else { return nil }
        return try key.withUnsafeBytes { try txn.get(dbi, $0).map { [UInt8]($0) } }
    }

    /// Stores `value` under `key` in `table`.
    ///
    /// - Throws: ``KirokuError/Code/invalidTableKey`` for an empty key or one over 511 bytes.
    public func put(_ key: [UInt8], _ value: [UInt8], in table: String) throws {
        guard !key.isEmpty, key.count <= 511 else {
            throw KirokuError(.invalidTableKey, "A state key is \(key.count) bytes; use 1 to 511 bytes.")
        }
        let dbi = try tables.handle(table)
        try key.withUnsafeBytes { key in try value.withUnsafeBytes { try txn.put(dbi, key, $0) } }
    }

    /// Removes `key` from `table` (nothing happens when it is absent).
    public func delete(_ key: [UInt8], in table: String) throws {
        let dbi = try tables.handle(table)
        guard !key.isEmpty else { return }
        try key.withUnsafeBytes { try txn.delete(dbi, $0) }
    }

    /// Up to `limit` entries of `table` whose keys start with `prefix`, in key order, after
    /// `after` when given.
    public func entries(in table: String, prefix: [UInt8] = [], after: [UInt8]? = nil, limit: Int = 1000) throws -> [(key: [UInt8], value: [UInt8])] {
        try txn.entries(tables.handle(table), prefix: prefix, after: after, limit: limit)
    }
}
