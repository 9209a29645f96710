// The limit: raw LMDB C calls doing the puts Kiroku does per event, with nothing else.
import CLMDB
import Foundation

/// A bare LMDB environment with the same databases as a Kiroku store.
final class RawLMDB {
    let env: OpaquePointer
    let records: MDB_dbi
    let keys: MDB_dbi
    let versionIndex: MDB_dbi
    var head: UInt64 = 0
    var versions: [String: UInt64] = [:]

    init(path: String, sync: Bool) {
        var env: OpaquePointer?
        check(mdb_env_create(&env))
        check(mdb_env_set_maxdbs(env, 8))
        check(mdb_env_set_mapsize(env, 4 << 30))
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        check(mdb_env_open(env, path, UInt32(MDB_NOTLS | (sync ? 0 : MDB_NOSYNC)), 0o600))
        self.env = env!
        var txn: OpaquePointer?
        check(mdb_txn_begin(env, nil, 0, &txn))
        var records: MDB_dbi = 0
        var keys: MDB_dbi = 0
        var versionIndex: MDB_dbi = 0
        check(mdb_dbi_open(txn, "records", UInt32(MDB_CREATE), &records))
        check(mdb_dbi_open(txn, "keys", UInt32(MDB_CREATE), &keys))
        check(mdb_dbi_open(txn, "version-index", UInt32(MDB_CREATE), &versionIndex))
        check(mdb_txn_commit(txn))
        self.records = records
        self.keys = keys
        self.versionIndex = versionIndex
    }

    deinit { mdb_env_close(env) }

    /// Where ``scan(_:)`` goes on from.
    private var scanFrom: UInt64 = 1

    /// Reads the next `count` records in position order with a cursor, each value copied out
    /// (the least a reader returning records must do), from where the last scan stopped and
    /// again from the start at the end. Returns the bytes read.
    func scan(_ count: Int) -> Int {
        var txn: OpaquePointer?
        check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn))
        defer { mdb_txn_abort(txn) }
        var cursor: OpaquePointer?
        check(mdb_cursor_open(txn, records, &cursor))
        defer { mdb_cursor_close(cursor) }
        var bytes = 0
        var read = 0
        var from = scanFrom.bigEndian
        var k = MDB_val(mv_size: 8, mv_data: nil)
        var v = MDB_val()
        var rc = withUnsafeMutableBytes(of: &from) { position in
            k.mv_data = position.baseAddress
            return mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE)
        }
        while read < count {
            if rc == MDB_NOTFOUND {
                rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
                continue
            }
            check(rc)
            let value = [UInt8](UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
            bytes += value.count
            read += 1
            scanFrom = UInt64(bigEndian: k.mv_data.loadUnaligned(as: UInt64.self)) + 1
            rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)
        }
        return bytes
    }

    /// One transaction: per event, the record with `MDB_APPEND`; when `index` is set, also the
    /// puts Kiroku's key index makes: a version-index entry for every 16th version and, once
    /// per batch, the key's latest (version, position).
    func appendBatch(key: String, value: [UInt8], count: Int, index: Bool) {
        var txn: OpaquePointer?
        check(mdb_txn_begin(env, nil, 0, &txn))
        var version = versions[key] ?? 0
        var keyBytes = Array(key.utf8)
        var valueCopy = value
        for _ in 0..<count {
            head += 1
            version += 1
            var positionBE = head.bigEndian
            withUnsafeMutableBytes(of: &positionBE) { position in
                valueCopy.withUnsafeMutableBytes { bytes in
                    var k = MDB_val(mv_size: 8, mv_data: position.baseAddress)
                    var v = MDB_val(mv_size: bytes.count, mv_data: bytes.baseAddress)
                    check(mdb_put(txn, records, &k, &v, UInt32(MDB_APPEND)))
                }
                guard index, version % 16 == 0 else { return }
                var indexKey = keyBytes
                withUnsafeBytes(of: version.bigEndian) { indexKey.append(contentsOf: $0) }
                indexKey.withUnsafeMutableBytes { keyBuffer in
                    var k = MDB_val(mv_size: keyBuffer.count, mv_data: keyBuffer.baseAddress)
                    var v = MDB_val(mv_size: 8, mv_data: position.baseAddress)
                    check(mdb_put(txn, versionIndex, &k, &v, 0))
                }
            }
        }
        if index {
            var latest = (version.bigEndian, head.bigEndian)
            withUnsafeMutableBytes(of: &latest) { entry in
                keyBytes.withUnsafeMutableBytes { keyBuffer in
                    var k = MDB_val(mv_size: keyBuffer.count, mv_data: keyBuffer.baseAddress)
                    var v = MDB_val(mv_size: 16, mv_data: entry.baseAddress)
                    check(mdb_put(txn, keys, &k, &v, 0))
                }
            }
        }
        versions[key] = version
        check(mdb_txn_commit(txn))
    }
}

private func check(_ rc: Int32, line: Int = #line) {
    if rc != 0 { fatalError("LMDB error \(rc) at line \(line): \(String(cString: mdb_strerror(rc)))") }
}
