import CLMDB

/// An LMDB cursor, valid only inside `Transaction.withCursor`.
struct Cursor {
    let handle: OpaquePointer

    /// One entry: key and value as bytes inside the map.
    struct Entry {
        let key: UnsafeRawBufferPointer
        let value: UnsafeRawBufferPointer
    }

    /// Moves the cursor with `op`; `nil` at the end (`MDB_NOTFOUND`).
    func get(_ op: MDB_cursor_op) throws(LMDBStatus) -> Entry? {
        var k = MDB_val()
        var v = MDB_val()
        return try finish(mdb_cursor_get(handle, &k, &v, op), k, v)
    }

    /// Positions with a search key (`MDB_SET_RANGE`, `MDB_SET_KEY`).
    func get(_ op: MDB_cursor_op, key: UnsafeRawBufferPointer) throws(LMDBStatus) -> Entry? {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val()
        return try finish(mdb_cursor_get(handle, &k, &v, op), k, v)
    }

    private func finish(_ rc: Int32, _ k: MDB_val, _ v: MDB_val) throws(LMDBStatus) -> Entry? {
        if rc == MDB_NOTFOUND { return nil }
        try lmdbCheck(rc)
        return Entry(
            key: UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size),
            value: UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
        )
    }
}
