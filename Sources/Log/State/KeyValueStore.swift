import CLMDB
import Foundation

/// A small LMDB key-value environment of its own, for state derived from the log (projection
/// views). It has its own file, map and writer lock, so writing to it never slows the log.
///
/// Writes are synchronous transactions run by one owner (a projection runner): call them from
/// a thread of your own or in bounded steps, not in a tight loop on the cooperative pool.
///
/// ```swift
/// let store = try KeyValueStore(path: dir, tables: ["counts"])
/// try store.write { txn in try txn.put(Array("count".utf8), Array("1".utf8), in: "counts") }
/// let bytes = try store.read { try $0.get(Array("count".utf8), in: "counts") }
/// ```
public final class KeyValueStore: Sendable {
    /// The directory of the environment.
    public let path: String
    let environment: Environment
    let canonicalPath: String
    let tables: TableHandles

    /// How the environment is opened.
    public struct Options: Sendable {
        /// Flush each commit (`true`), or only data pages and not the meta page (`false`,
        /// `MDB_NOMETASYNC`: a power loss may roll back the last commits, never corrupt).
        public var syncEveryCommit = true
        /// The map's size at open; it grows by itself. Default 16 MiB.
        public var initialMapSize = 16 << 20
        /// Permissions of created files. Default `0o600`.
        public var fileMode: mode_t = 0o600

        /// Durable commits, 16 MiB initial map.
        public init() {}
    }

    /// Opens (creating when missing) the environment at `path` with these tables.
    ///
    /// - Throws: ``KirokuError`` with ``KirokuError/Code/alreadyOpen``,
    ///   ``KirokuError/Code/permissionDenied``, ``KirokuError/Code/notAStore``, or
    ///   ``KirokuError/Code/storageFailure``.
    public init(path: String, tables names: [String], options: Options = Options()) throws {
        if let bad = names.first(where: { $0.isEmpty || $0.utf8.contains(0) }) {
            throw KirokuError(.invalidTableName, "'\(bad.split(separator: "\0", omittingEmptySubsequences: false).joined(separator: "\\0"))' cannot name a state table: use a non-empty name without NUL bytes (LMDB takes names as C strings).", path: path)
        }
        let canonical = try StoreDirectory.prepare(path: path, create: true)
        try OpenStores.claim(canonical, requestedPath: path)
        do {
            environment = try Environment(path: canonical, configuration: .init(
                mapSize: max(options.initialMapSize, 1 << 20), maxReaders: 126, maxDatabases: 64,
                flags: options.syncEveryCommit ? 0 : MDB_NOMETASYNC, fileMode: options.fileMode))
        } catch {
            OpenStores.release(canonical)
            throw StoreDirectory.openError(error, path: path)
        }
        self.path = path
        self.canonicalPath = canonical
        do {
            let environment = environment
            tables = TableHandles(handles: try environment.write { txn in
                var handles: [ExactString: MDB_dbi] = [:]
                for name in Set(names.map { ExactString($0) }) {
                    handles[name] = try Environment.openDatabase(txn, name: name.string, flags: MDB_CREATE)
                }
                return handles
            })
        } catch {
            environment.close()
            OpenStores.release(canonical)
            throw StoreDirectory.openError(error, path: path)
        }
    }

    deinit { close() }

    /// Closes the environment once running transactions end. Calling it again does nothing.
    public func close() {
        guard !environment.isClosed else { return }
        environment.close()
        OpenStores.release(canonicalPath)
    }

    /// Relaxes durability for bulk work (`true`: nothing is flushed at commit, `MDB_NOSYNC`), or
    /// restores it (`false`), flushing everything written meanwhile first.
    ///
    /// Relaxed commits survive a process crash (the OS holds the pages) but not an OS crash or
    /// power loss, which may lose them or damage the environment: use it only for state that can
    /// be rebuilt from the log, such as a projection version still building.
    public func relaxSync(_ relaxed: Bool) throws {
        do throws(LMDBStatus) {
            if !relaxed { try environment.sync() }
            try environment.setNoSync(relaxed)
        } catch {
            throw KirokuError(status: error, path: path, doing: "changing the sync mode")
        }
    }

    /// Runs `body` in a write transaction: committed when it returns, aborted when it throws.
    ///
    /// When the map is full, the transaction is aborted, the map grows and `body` runs again:
    /// it must not have effects outside the transaction.
    public func write<T>(_ body: (KeyValueTransaction) throws -> T) throws -> T {
        while true {
            do {
                return try environment.write { txn in
                    try body(KeyValueTransaction(txn: txn, tables: tables))
                }
            } catch let status as LMDBStatus where status == .mapFull {
                let current = environment.mapSize
                try translate { try environment.grow(to: Environment.grownMapSize(current)) }
            } catch let status as LMDBStatus {
                throw KirokuError(status: status, path: path, doing: "writing state")
            } catch is EnvironmentClosed {
                throw KirokuError(.closed, "The state store at \(path) is closed.", path: path)
            }
        }
    }

    /// Zeroes the environment's free pages that no reader can reach (see ``EventLog/erase(key:readerWait:)``),
    /// after a small commit to `table` (key `_scrub`). Call it on the thread that writes.
    public func scrubFreePages(touching table: String) throws -> ScrubReport {
        let handle = try tables.handle(table)
        do {
            return try environment.scrubFreePages { txn in
                var now = UInt64(Date().timeIntervalSince1970).littleEndian
                try "_scrub".withUTF8Bytes { key in try withUnsafeBytes(of: &now) { try txn.put(handle, key, $0) } }
            }
        } catch let status as LMDBStatus {
            throw KirokuError(status: status, path: path, doing: "scrubbing free pages")
        } catch is EnvironmentClosed {
            throw KirokuError(.closed, "The state store at \(path) is closed.", path: path)
        }
    }

    /// Runs `body` in a short read-only transaction.
    public func read<T>(_ body: (KeyValueTransaction) throws -> T) throws -> T {
        do {
            return try environment.read { txn in
                try body(KeyValueTransaction(txn: txn, tables: tables))
            }
        } catch let status as LMDBStatus {
            throw KirokuError(status: status, path: path, doing: "reading state")
        } catch is EnvironmentClosed {
            throw KirokuError(.closed, "The state store at \(path) is closed.", path: path)
        }
    }

    private func translate(_ body: () throws -> Void) throws {
        do { try body() } catch let status as LMDBStatus {
            throw KirokuError(status: status, path: path, doing: "growing the map")
        }
    }
}

/// The store's tables, opened once when it opens: LMDB forbids opening table handles from
/// concurrent transactions, so none is opened later.
struct TableHandles: Sendable {
    let handles: [ExactString: MDB_dbi]

    func handle(_ name: String) throws -> MDB_dbi {
        guard let handle = handles[ExactString(name)] else {
            throw KirokuError(.invalidTableName, "No state table '\(name)'; declare every table when opening the store (declared: \(handles.keys.sorted().map(\.string))).")
        }
        return handle
    }
}
