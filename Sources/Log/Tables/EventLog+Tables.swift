import CLMDB

extension KirokuError.Code {
    /// A table name is empty, too long, or one of the log's own databases.
    public static let invalidTableName = Self("invalid-table-name")
    /// A table key is empty or longer than LMDB's 511-byte key limit.
    public static let invalidTableKey = Self("invalid-table-key")
    /// The store holds as many tables as LMDB allows (``EventLog/maxDatabases`` in all).
    public static let tooManyTables = Self("too-many-tables")
}

extension EventLog {
    /// The names of the log's own databases, which tables cannot use.
    static let reservedTableNames: Set<ExactString> = ["records", "keys", "version-index", "ids", "meta", "lifecycle"]

    /// The table called `name`, created on first use (through the writer).
    ///
    /// Names are compared by their bytes, like keys: two canonically equivalent spellings name
    /// two tables.
    ///
    /// - Throws: ``KirokuError/Code/invalidTableName`` for an empty name, a name over 64 bytes,
    ///   one holding a NUL (LMDB takes names as C strings, which end at a NUL), or one of the
    ///   log's own databases; ``KirokuError/Code/tooManyTables`` when the store holds as many as
    ///   LMDB allows.
    public func table(named name: String) async throws -> LogTable {
        if let table = openTables.withLock({ $0[ExactString(name)] }) { return table }
        guard !name.isEmpty, name.utf8.count <= 64, !name.utf8.contains(0), !Self.reservedTableNames.contains(ExactString(name)) else {
            let reason = name.utf8.contains(0) ? "it holds a NUL byte, where C would cut it short" : "use 1 to 64 bytes, and none of \(Self.reservedTableNames.sorted().map(\.string))"
            throw KirokuError(.invalidTableName, "'\(name.split(separator: "\0", omittingEmptySubsequences: false).joined(separator: "\\0"))' cannot name a table: \(reason).", path: path)
        }
        guard case .opened(let dbi) = try await writer.submit(.openTable(name)) else {
            preconditionFailure("the writer answered a table open with another outcome")
        }
        let table = LogTable(name: name, dbi: dbi)
        openTables.withLock { $0[ExactString(name)] = table }
        return table
    }

    /// Commits table writes, all or nothing, in the writer's next transaction (with whatever
    /// appends share it).
    ///
    /// - Throws: ``KirokuError/Code/invalidTableKey`` for an empty key or one over 511 bytes,
    ///   ``KirokuError/Code/diskFull``, ``KirokuError/Code/closed``.
    public func write(_ writes: [TableWrite]) async throws {
        guard !writes.isEmpty else { return }
        for write in writes {
            let key = write.key
            guard Transaction.isValidKeyLength(key.count) else {
                throw KirokuError(.invalidTableKey, "A table key is \(key.count) bytes; use 1 to \(Transaction.maxKeyBytes) bytes.", path: path)
            }
        }
        _ = try await writer.submit(.tables(writes))
    }

    /// The value stored under `key` in `table`, or `nil`.
    public func value(in table: LogTable, for key: [UInt8]) throws -> [UInt8]? {
        guard !key.isEmpty else { return nil }
        return try withReadTransaction { txn in
            try key.withUnsafeBytes { try txn.get(table.dbi, $0).map { [UInt8]($0) } }
        }
    }

    /// Up to `limit` entries of `table` whose keys start with `prefix`, in key order, starting
    /// after `after` when given. Page by passing the last key returned as `after`.
    public func entries(in table: LogTable, prefix: [UInt8] = [], after: [UInt8]? = nil, limit: Int = 1000) throws -> [(key: [UInt8], value: [UInt8])] {
        try withReadTransaction { txn in try txn.entries(table.dbi, prefix: prefix, after: after, limit: limit) }
    }
}
