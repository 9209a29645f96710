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
        guard Transaction.isValidKeyLength(key.count) else {
            throw KirokuError(.invalidTableKey, "A state key is \(key.count) bytes; use 1 to \(Transaction.maxKeyBytes) bytes.")
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

extension KeyValueTransaction {
    /// Calls `body` with the bytes under `key` in `table` (or `nil`), read in place from the map
    /// without a copy; the bytes are valid only inside `body`.
    public func withValue<T>(_ key: [UInt8], in table: String, _ body: (UnsafeRawBufferPointer?) throws -> T) throws -> T {
        let dbi = try tables.handle(table)
        guard !key.isEmpty else { return try body(nil) }
        let value = try key.withUnsafeBytes { try txn.get(dbi, $0) }
        return try body(value)
    }

    /// The entry with the greatest key at or before `key` among the keys of `table` that start
    /// with `prefix`, or `nil`.
    public func last(in table: String, prefix: [UInt8], atOrBefore key: [UInt8]) throws -> (key: [UInt8], value: [UInt8])? {
        let dbi = try tables.handle(table)
        return try txn.withCursor(dbi) { cursor throws -> (key: [UInt8], value: [UInt8])? in
            var entry = try key.withUnsafeBytes { try cursor.get(MDB_SET_RANGE, key: $0) }
            if let found = entry, found.key.elementsEqual(key) {
                return ([UInt8](found.key), [UInt8](found.value))
            }
            entry = try entry == nil ? cursor.get(MDB_LAST) : cursor.get(MDB_PREV)
            guard let found = entry, found.key.starts(with: prefix) else { return nil }
            return ([UInt8](found.key), [UInt8](found.value))
        }
    }

    /// Visits, in key order, the entries of `table` whose keys start with `prefix`, from the
    /// first key at or after `from` (default: the prefix itself), until `body` returns false.
    /// Keys and values are read in place from the map, valid only inside `body`.
    public func forEach(in table: String, prefix: [UInt8], from: [UInt8]? = nil,
                        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws {
        let dbi = try tables.handle(table)
        try txn.withCursor(dbi) { cursor throws in
            let start = Transaction.scanStart(prefix: prefix, after: from)
            var entry = start.isEmpty
                ? try cursor.get(MDB_FIRST)
                : try start.withUnsafeBytes { try cursor.get(MDB_SET_RANGE, key: $0) }
            while let current = entry, current.key.starts(with: prefix) {
                guard try body(current.key, current.value) else { return }
                entry = try cursor.get(MDB_NEXT)
            }
        }
    }
}
