import CLMDB
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open LMDB transaction, valid only inside the closure that received it.
///
/// Not `Sendable` on purpose: an LMDB write transaction must stay on the thread that began it,
/// and byte buffers it returns point into the memory map, valid only until it ends.
struct Transaction {
    let handle: OpaquePointer

    /// The id of the snapshot this transaction reads (`mdb_txn_id`).
    var id: Int { Int(mdb_txn_id(handle)) }

    /// The value stored under `key`, as bytes inside the map (valid until the transaction ends).
    func get(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer) throws(LMDBStatus) -> UnsafeRawBufferPointer? {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val()
        let rc = mdb_get(handle, dbi, &k, &v)
        if rc == MDB_NOTFOUND { return nil }
        try lmdbCheck(rc)
        return UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
    }

    func put(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, flags: Int32 = 0) throws(LMDBStatus) {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        try lmdbCheck(mdb_put(handle, dbi, &k, &v, UInt32(bitPattern: flags)))
    }

    /// Reserves `size` bytes for `key` and lets `fill` write them in place (no extra copy).
    func putReserved(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer, size: Int, flags: Int32 = 0,
                     fill: (UnsafeMutableRawBufferPointer) -> Void) throws(LMDBStatus) {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: size, mv_data: nil)
        try lmdbCheck(mdb_put(handle, dbi, &k, &v, UInt32(bitPattern: flags | MDB_RESERVE)))
        fill(UnsafeMutableRawBufferPointer(start: v.mv_data, count: size))
    }

    func delete(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer) throws(LMDBStatus) {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        let rc = mdb_del(handle, dbi, &k, nil)
        if rc == MDB_NOTFOUND { return }
        try lmdbCheck(rc)
    }

    /// Runs `body` in a transaction nested in this write transaction: its changes join this
    /// one when `body` returns, and are undone alone when it throws, leaving this transaction
    /// usable (LMDB marks a transaction whose put failed as unusable; a nested one keeps that
    /// from spreading to the rest of a batch). This transaction must not be used meanwhile.
    func nested<T>(_ body: (Transaction) throws -> T) throws -> T {
        var child: OpaquePointer?
        try lmdbCheck(mdb_txn_begin(mdb_txn_env(handle), handle, 0, &child))
        guard let child else { throw LMDBStatus(code: ENOMEM) }
        let result: T
        do {
            result = try body(Transaction(handle: child))
        } catch {
            mdb_txn_abort(child)
            throw error
        }
        try lmdbCheck(mdb_txn_commit(child))
        return result
    }

    /// LMDB's longest key (with its default page size).
    static let maxKeyBytes = 511

    /// Whether `count` bytes make a key LMDB takes (1 to ``maxKeyBytes``).
    static func isValidKeyLength(_ count: Int) -> Bool { count > 0 && count <= maxKeyBytes }

    /// Where a scan of the keys with `prefix`, after `after` when given, starts: `after`, unless
    /// it sorts before the prefix (byte order).
    static func scanStart(prefix: [UInt8], after: [UInt8]?) -> [UInt8] {
        guard let after, !after.lexicographicallyPrecedes(prefix) else { return prefix }
        return after
    }

    /// Runs `body` with a cursor on `dbi` that is closed when it returns.
    func withCursor<T, E: Error>(_ dbi: MDB_dbi, _ body: (Cursor) throws(E) -> T) throws(E) -> T {
        var cursorHandle: OpaquePointer?
        let rc = mdb_cursor_open(handle, dbi, &cursorHandle)
        guard rc == 0, let cursorHandle else {
            // Opening a cursor fails only on a bad handle: a programming error, not user input.
            preconditionFailure("mdb_cursor_open failed: \(LMDBStatus(code: rc))")
        }
        let cursor = Cursor(handle: cursorHandle)
        defer { mdb_cursor_close(cursorHandle) }
        return try body(cursor)
    }

    /// Up to `limit` entries of `dbi` whose keys start with `prefix`, in key order, after
    /// `after` when given (page with the last key returned).
    func entries(_ dbi: MDB_dbi, prefix: [UInt8], after: [UInt8]?, limit: Int) throws -> [(key: [UInt8], value: [UInt8])] {
        guard limit > 0 else { return [] }
        return try withCursor(dbi) { cursor in
            var entries: [(key: [UInt8], value: [UInt8])] = []
            let start = Self.scanStart(prefix: prefix, after: after)
            var entry = start.isEmpty
                ? try cursor.get(MDB_FIRST)
                : try start.withUnsafeBytes { try cursor.get(MDB_SET_RANGE, key: $0) }
            while let current = entry, entries.count < limit {
                guard current.key.starts(with: prefix) else { break }
                let key = [UInt8](current.key)
                if key != after { entries.append((key, [UInt8](current.value))) }
                entry = try cursor.get(MDB_NEXT)
            }
            return entries
        }
    }

    /// The bytes of the pages `dbi` uses (branch, leaf and overflow pages × the page size).
    func pageBytes(_ dbi: MDB_dbi) throws(LMDBStatus) -> Int {
        var stat = MDB_stat()
        try lmdbCheck(mdb_stat(handle, dbi, &stat))
        return (stat.ms_branch_pages + stat.ms_leaf_pages + stat.ms_overflow_pages) * Int(stat.ms_psize)
    }

    /// Deletes up to `count` of the first entries of `dbi` with one cursor; returns how many.
    func deleteFirst(_ dbi: MDB_dbi, count: Int) throws(LMDBStatus) -> Int {
        var cursor: OpaquePointer?
        try lmdbCheck(mdb_cursor_open(handle, dbi, &cursor))
        defer { mdb_cursor_close(cursor) }
        var key = MDB_val(), value = MDB_val()
        var deleted = 0
        while deleted < count, mdb_cursor_get(cursor, &key, &value, MDB_FIRST) == 0 {
            try lmdbCheck(mdb_cursor_del(cursor, 0))
            deleted += 1
        }
        return deleted
    }

    /// Number of entries in `dbi` (duplicates counted one by one).
    func entryCount(_ dbi: MDB_dbi) throws(LMDBStatus) -> Int {
        var stat = MDB_stat()
        try lmdbCheck(mdb_stat(handle, dbi, &stat))
        return stat.ms_entries
    }
}
