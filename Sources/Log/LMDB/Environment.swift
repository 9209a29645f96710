import CLMDB
import Foundation

/// One open LMDB environment: the memory map, its lock file and its named databases.
///
/// `@unchecked Sendable`: LMDB's environment handle is safe to share between threads when opened
/// with `MDB_NOTLS`; the calls that are not (`mdb_env_set_mapsize`, `mdb_env_close`) run only
/// inside `gate.withExclusive`, and `mapSize`/`isClosed` are changed only there too.
final class Environment: @unchecked Sendable {
    /// Changed only by ``reopen()``, inside `gate.withExclusive`.
    private(set) var handle: OpaquePointer
    let path: String
    private let configuration: Configuration
    let gate = TransactionGate()
    /// Failures tests schedule for the next flushes and commits (none otherwise).
    let faults = FaultSchedule()
    private(set) var mapSize: Int
    private(set) var isClosed = false

    struct Configuration {
        var mapSize: Int
        var maxReaders: UInt32
        var maxDatabases: UInt32
        var flags: Int32
        var fileMode: mode_t
    }

    init(path: String, configuration: Configuration) throws(LMDBStatus) {
        let env = try Self.open(path: path, configuration: configuration)
        self.handle = env
        self.path = path
        self.configuration = configuration
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        self.mapSize = info.me_mapsize
        // Reader slots left behind by processes that died (kill -9) would otherwise pin old pages.
        var dead: Int32 = 0
        mdb_reader_check(env, &dead)
    }

    private static func open(path: String, configuration: Configuration) throws(LMDBStatus) -> OpaquePointer {
        var env: OpaquePointer?
        try lmdbCheck(mdb_env_create(&env))
        guard let env else { throw LMDBStatus(code: ENOMEM) }
        do throws(LMDBStatus) {
            try lmdbCheck(mdb_env_set_maxdbs(env, configuration.maxDatabases))
            try lmdbCheck(mdb_env_set_maxreaders(env, configuration.maxReaders))
            try lmdbCheck(mdb_env_set_mapsize(env, configuration.mapSize))
            try lmdbCheck(mdb_env_open(env, path, UInt32(bitPattern: configuration.flags | MDB_NOTLS), configuration.fileMode))
        } catch {
            mdb_env_close(env)
            throw error
        }
        return env
    }

    deinit {
        if !isClosed {
            Self.databases.withLock { $0[UInt(bitPattern: handle)] = nil }
            mdb_env_close(handle)
        }
    }

    /// The named databases each open environment has opened (by handle): ``reopen()`` opens
    /// them again, in the same order, so that their numbers stay what the layers above hold.
    private static let databases = Locked<[UInt: [MDB_dbi: String]]>([:])

    /// Closes LMDB's handle and opens the environment again, once every transaction of this
    /// process has ended, with the same databases under the same numbers.
    ///
    /// Why: LMDB keeps the buffers of pages a write transaction dirtied, after it commits, for
    /// later transactions, without clearing them; a page copied into such a buffer keeps the
    /// buffer's old bytes in its unused middle, and writes them to the file. After an erasure,
    /// buffers that held the erased bytes must go: only closing the handle frees them.
    ///
    /// If a database does not come back under its number (it cannot, unless its creation was
    /// rolled back), the environment is closed rather than used with wrong numbers.
    func reopen() throws(LMDBStatus) {
        try gate.withExclusive { () throws(LMDBStatus) in
            guard !isClosed else { return }
            let old = UInt(bitPattern: handle)
            let opened = Self.databases.withLock { $0[old] ?? [:] }
            mdb_env_close(handle)
            Self.databases.withLock { $0[old] = nil }
            var current = configuration
            current.mapSize = mapSize
            let env: OpaquePointer
            do throws(LMDBStatus) {
                env = try Self.open(path: path, configuration: current)
            } catch {
                isClosed = true
                throw error
            }
            handle = env
            var txn: OpaquePointer?
            var rc = mdb_txn_begin(env, nil, 0, &txn)
            if rc == 0, let txn {
                for (dbi, name) in opened.sorted(by: { $0.key < $1.key }) {
                    var again: MDB_dbi = 0
                    rc = mdb_dbi_open(txn, name, 0, &again)
                    if rc == 0 && again != dbi { rc = MDB_INCOMPATIBLE }
                    if rc != 0 { break }
                }
                if rc == 0 { rc = mdb_txn_commit(txn) } else { mdb_txn_abort(txn) }
            }
            guard rc == 0 else {
                isClosed = true
                mdb_env_close(env)
                throw LMDBStatus(code: rc)
            }
            Self.databases.withLock { $0[UInt(bitPattern: env)] = opened }
        }
    }

    /// Writes a consistent copy of the environment (as of one read transaction; writers go on
    /// meanwhile) as `data.mdb` in `directory`, which must exist and be empty. `compact` leaves
    /// out free pages and renumbers the rest (`MDB_CP_COMPACT`): a smaller file.
    func copy(to directory: String, compact: Bool) throws(LMDBStatus) {
        while true {
            let rc: Int32 = gate.withShared {
                isClosed ? EINVAL : mdb_env_copy2(handle, directory, compact ? UInt32(MDB_CP_COMPACT) : 0)
            }
            if rc == MDB_MAP_RESIZED {
                try adoptMapSize()
                continue
            }
            try lmdbCheck(rc)
            return
        }
    }

    /// Pages in the file and pages on its free list (reused by later writes; a compacting copy
    /// leaves them out), and the page size.
    func pageUse() throws -> (pages: Int, free: Int, pageSize: Int) {
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        var stat = MDB_stat()
        mdb_env_stat(handle, &stat)
        let free = try read { txn -> Int in
            var cursor: OpaquePointer?
            try lmdbCheck(mdb_cursor_open(txn.handle, 0, &cursor))
            defer { mdb_cursor_close(cursor) }
            var key = MDB_val(), value = MDB_val()
            var count = 0
            var op = MDB_FIRST
            // Each entry of the free list (database 0) is a list of page numbers, its length first.
            while mdb_cursor_get(cursor, &key, &value, op) == 0 {
                if let data = value.mv_data, value.mv_size >= MemoryLayout<Int>.size {
                    count += data.loadUnaligned(as: Int.self)
                }
                op = MDB_NEXT
            }
            return count
        }
        return (info.me_last_pgno + 1, free, Int(stat.ms_psize))
    }

    /// Closes the environment once every running transaction has ended.
    func close() {
        gate.withExclusive {
            guard !isClosed else { return }
            isClosed = true
            Self.databases.withLock { $0[UInt(bitPattern: handle)] = nil }
            mdb_env_close(handle)
        }
    }

    /// Runs `body` in a read-only transaction, adopting a map grown by another process if needed.
    func read<T>(_ body: (Transaction) throws -> T) throws -> T {
        try transaction(readOnly: true, body)
    }

    /// Runs `body` in a write transaction, committing on return and aborting on throw.
    ///
    /// Only the store's writer thread (and one-time setup on open) calls this: LMDB write
    /// transactions are serialised across processes by its lock file, and must stay on one thread.
    func write<T>(_ body: (Transaction) throws -> T) throws -> T {
        try transaction(readOnly: false, body)
    }

    private func transaction<T>(readOnly: Bool, _ body: (Transaction) throws -> T) throws -> T {
        while true {
            gate.enterShared()
            if isClosed {
                gate.leaveShared()
                throw EnvironmentClosed()
            }
            var txnHandle: OpaquePointer?
            let rc = mdb_txn_begin(handle, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &txnHandle)
            if rc == MDB_MAP_RESIZED {
                gate.leaveShared()
                try adoptMapSize()
                continue
            }
            guard rc == 0, let txnHandle else {
                gate.leaveShared()
                throw LMDBStatus(code: rc)
            }
            defer { gate.leaveShared() }
            let txn = Transaction(handle: txnHandle)
            let result: T
            do {
                result = try body(txn)
            } catch {
                mdb_txn_abort(txnHandle)
                throw error
            }
            if readOnly {
                mdb_txn_abort(txnHandle)
            } else {
                if let code = faults.take(.commit) {
                    mdb_txn_abort(txnHandle)
                    throw LMDBStatus(code: code)
                }
                try lmdbCheck(mdb_txn_commit(txnHandle))
            }
            return result
        }
    }

    /// The map size after one growth step from `current`: it doubles up to 1 GiB, then grows by
    /// 1 GiB at a time (the log's writer and the projections' state stores share the policy).
    static func grownMapSize(_ current: Int) -> Int {
        current < (1 << 30) ? current * 2 : current + (1 << 30)
    }

    /// Grows the map to at least `size` bytes. Waits for running transactions to end.
    func grow(to size: Int) throws(LMDBStatus) {
        try setMapSize(max(size, mapSize))
    }

    /// Adopts the map size another process grew the environment to (`MDB_MAP_RESIZED`).
    func adoptMapSize() throws(LMDBStatus) {
        try setMapSize(0)
    }

    /// `mdb_env_set_mapsize` with no transaction of this process open; 0 adopts the size in use.
    private func setMapSize(_ size: Int) throws(LMDBStatus) {
        try gate.withExclusive { () throws(LMDBStatus) in
            guard !isClosed else { return }
            try lmdbCheck(mdb_env_set_mapsize(handle, size))
            var info = MDB_envinfo()
            mdb_env_info(handle, &info)
            mapSize = info.me_mapsize
        }
    }

    /// The id of the last committed write transaction of any process (`nil` once closed). Reading
    /// it makes no system call: LMDB keeps it in the shared lock file's memory.
    func lastTransactionId() -> Int? {
        gate.withShared {
            guard !isClosed else { return nil }
            var info = MDB_envinfo()
            mdb_env_info(handle, &info)
            return info.me_last_txnid
        }
    }

    /// Turns `MDB_NOSYNC` on or off for this process's commits.
    func setNoSync(_ on: Bool) throws(LMDBStatus) {
        try gate.withShared { () throws(LMDBStatus) in
            guard !isClosed else { return }
            try lmdbCheck(mdb_env_set_flags(handle, UInt32(MDB_NOSYNC), on ? 1 : 0))
        }
    }

    /// Flushes written pages to disk (`mdb_env_sync` with force).
    func sync() throws(LMDBStatus) {
        try gate.withShared { () throws(LMDBStatus) in
            guard !isClosed else { return }
            if let code = faults.take(.sync) { throw LMDBStatus(code: code) }
            try lmdbCheck(mdb_env_sync(handle, 1))
        }
    }

    /// Opens (creating when asked) a named database inside a write transaction.
    /// `name` `nil` is LMDB's main (unnamed) database.
    static func openDatabase(_ txn: Transaction, name: String?, flags: Int32) throws(LMDBStatus) -> MDB_dbi {
        var dbi: MDB_dbi = 0
        if let name {
            try lmdbCheck(mdb_dbi_open(txn.handle, name, UInt32(bitPattern: flags), &dbi))
            if let env = mdb_txn_env(txn.handle) {
                databases.withLock { $0[UInt(bitPattern: env), default: [:]][dbi] = name }
            }
        } else {
            try lmdbCheck(mdb_dbi_open(txn.handle, nil, UInt32(bitPattern: flags), &dbi))
        }
        return dbi
    }
}

/// Thrown by a transaction started after `close()`.
struct EnvironmentClosed: Error {}
