import CLMDB
import Foundation

/// The named LMDB databases of a store, documented in `docs/FORMAT.md`.
struct StoreLayout: Sendable {
    /// position (8 bytes BE) → encoded record; written with `MDB_APPEND`.
    let records: MDB_dbi
    /// key (UTF-8) → (version BE, position BE) of the key's latest record.
    let keys: MDB_dbi
    /// key (UTF-8) + version (8 bytes BE) → position (8 bytes BE), for every 16th version of a
    /// key: entry points into the chain of previous-record positions (see ``KeyIndex``).
    let versionIndex: MDB_dbi
    /// idempotency id (UTF-8) → position (8 bytes BE).
    let ids: MDB_dbi
    /// "format" → UInt32 LE, "store-id" → 16-byte UUID, "replica-of" → the source's 16-byte
    /// UUID (read replicas only).
    let meta: MDB_dbi
    /// Work that deletions, erasures and truncations left for later steps: kind (1 byte) + key
    /// (UTF-8) → target version (8 BE) [+ next version to erase (8 BE)] (see ``Lifecycle``).
    let lifecycle: MDB_dbi
    /// The store's identity, made when it was created.
    let storeId: UUID

    /// The last committed position (0 for an empty log).
    func headPosition(in txn: Transaction) throws -> UInt64 {
        try txn.withCursor(records) { cursor in
            guard let last = try cursor.get(MDB_LAST) else { return 0 }
            guard last.key.count == 8 else {
                throw KirokuError(.corruption, "The last record key is not 8 bytes; run verify.")
            }
            return BigEndianKey.value(last.key)
        }
    }

    /// A UInt64 LE value of `meta` (0 when absent).
    func counter(_ name: String, in txn: Transaction) throws -> UInt64 {
        try name.withUTF8Bytes { key in
            guard let bytes = try txn.get(meta, key), bytes.count == 8 else { return 0 }
            return UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        }
    }

    func setCounter(_ name: String, _ value: UInt64, in txn: Transaction) throws {
        var value = value.littleEndian
        try name.withUTF8Bytes { key in try withUnsafeBytes(of: &value) { try txn.put(meta, key, $0) } }
    }

    /// Raises the store's format to `format` unless it is there already: 2 by the first lifecycle
    /// write, 3 by the first record with a schema version. Older builds, which would read the
    /// new records as damaged, refuse the store instead.
    func raiseFormat(to format: UInt32 = lifecycleFormatVersion, in txn: Transaction) throws {
        var version = format.littleEndian
        try Self.formatKey.withUTF8Bytes { key in
            if let bytes = try txn.get(meta, key), bytes.count == 4,
               UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self)) >= format { return }
            try withUnsafeBytes(of: &version) { try txn.put(meta, key, $0) }
        }
    }

    /// The store this one replicates, when it is a read replica (`meta` "replica-of").
    func replicaSource(in txn: Transaction) throws -> UUID? {
        try Self.replicaOfKey.withUTF8Bytes { key in
            guard let bytes = try txn.get(meta, key) else { return nil }
            guard bytes.count == 16 else {
                throw KirokuError(.corruption, "The store's replica-of entry is \(bytes.count) bytes, not 16; run verify.")
            }
            return UUID(uuid: bytes.loadUnaligned(as: uuid_t.self))
        }
    }

    /// Marks the store as a read replica of `source`.
    static func setReplicaSource(_ source: UUID, layout: StoreLayout, in txn: Transaction) throws {
        var uuid = source.uuid
        try replicaOfKey.withUTF8Bytes { key in
            try withUnsafeBytes(of: &uuid) { try txn.put(layout.meta, key, $0) }
        }
    }

    /// The store format a new store starts with; a store is raised to
    /// ``lifecycleFormatVersion`` by its first deletion, erasure or removal.
    static let formatVersion: UInt32 = 1
    /// Format 2: format 1 plus erased records, deletion markers, extended key entries, removed
    /// records (`docs/FORMAT.md`). Builds that know only format 1 refuse it.
    static let lifecycleFormatVersion: UInt32 = 2
    /// Format 3: format 2 plus records that carry their event's schema version (record flag
    /// bit 5, `docs/FORMAT.md`).
    static let schemaFormatVersion: UInt32 = 3
    /// The newest format this build reads.
    static let newestFormatVersion: UInt32 = schemaFormatVersion
    static let formatKey = "format"
    static let storeIdKey = "store-id"
    static let replicaOfKey = "replica-of"

    enum OpenFailure: Error {
        case notAStore(String)
        case newerFormat(UInt32)
    }

    /// Checks that the environment is a Kiroku store (or empty), initialises an empty one, and
    /// opens the databases. Runs once, on open, before the writer starts.
    static func open(_ env: Environment) throws -> StoreLayout {
        // Look before writing: a foreign LMDB environment is reported, never modified.
        let state: (hasMeta: Bool, mainEntries: Int) = try env.read { txn in
            var dbi: MDB_dbi = 0
            let rc = mdb_dbi_open(txn.handle, "meta", 0, &dbi)
            if rc == 0 { return (true, 0) }
            if rc != MDB_NOTFOUND { throw LMDBStatus(code: rc) }
            var main: MDB_dbi = 0
            try lmdbCheck(mdb_dbi_open(txn.handle, nil, 0, &main))
            return (false, try txn.entryCount(main))
        }
        if !state.hasMeta && state.mainEntries > 0 {
            throw OpenFailure.notAStore("it is an LMDB environment without Kiroku's meta database")
        }
        return try env.write { txn in
            let meta = try Environment.openDatabase(txn, name: "meta", flags: MDB_CREATE)
            let format: UInt32? = try formatKey.withUTF8Bytes { key in
                try txn.get(meta, key).map { bytes in
                    bytes.count == 4 ? UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self)) : UInt32.max
                }
            }
            switch format {
            case nil:
                if state.hasMeta { throw OpenFailure.notAStore("its meta database has no format version") }
                var version = formatVersion.littleEndian
                try formatKey.withUTF8Bytes { key in
                    try withUnsafeBytes(of: &version) { try txn.put(meta, key, $0) }
                }
                var uuid = UUID().uuid
                try storeIdKey.withUTF8Bytes { key in
                    try withUnsafeBytes(of: &uuid) { try txn.put(meta, key, $0) }
                }
            case let stored? where stored > newestFormatVersion:
                throw OpenFailure.newerFormat(stored)
            default:
                break
            }
            let storeId: UUID = try storeIdKey.withUTF8Bytes { key in
                guard let bytes = try txn.get(meta, key), bytes.count == 16 else {
                    throw OpenFailure.notAStore("its meta database has no store id")
                }
                return UUID(uuid: bytes.loadUnaligned(as: uuid_t.self))
            }
            return StoreLayout(
                records: try Environment.openDatabase(txn, name: "records", flags: MDB_CREATE),
                keys: try Environment.openDatabase(txn, name: "keys", flags: MDB_CREATE),
                versionIndex: try Environment.openDatabase(txn, name: "version-index", flags: MDB_CREATE),
                ids: try Environment.openDatabase(txn, name: "ids", flags: MDB_CREATE),
                meta: meta,
                lifecycle: try Environment.openDatabase(txn, name: "lifecycle", flags: MDB_CREATE),
                storeId: storeId
            )
        }
    }
}
