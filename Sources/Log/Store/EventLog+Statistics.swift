import CLMDB
import Foundation

/// Sizes and counts of a store, for operators (`kiroku stats`).
public struct StoreStatistics: Sendable, Hashable, Codable {
    /// The position of the last record (the number of records; positions have no gaps).
    public var headPosition: UInt64
    /// The number of keys with at least one record.
    public var keys: Int
    /// The data file's size on disk, in bytes.
    public var fileBytes: Int64
    /// The memory map's size (the most the file can grow to before the map grows), in bytes.
    public var mapBytes: Int
    /// The bytes of the map in use (LMDB's last page in use × the page size).
    public var usedBytes: Int
    /// The bytes of free pages: freed by earlier writes, reused by later ones, never given back
    /// to the file system (LMDB's file does not shrink). A compacting backup
    /// (``EventLog/backup(to:compact:)``) leaves them out.
    public var freeBytes: Int = 0
}

extension EventLog {
    /// Counts and sizes of the store: records, keys, file size, map size and use.
    public func statistics() throws -> StoreStatistics {
        let (head, keys) = try withReadTransaction { txn in
            (try layout.headPosition(in: txn), try txn.entryCount(layout.keys))
        }
        var info = MDB_envinfo()
        var stat = MDB_stat()
        try withReadTransaction { _ in
            // Inside a read transaction: the environment is open.
            mdb_env_info(environment.handle, &info)
            mdb_env_stat(environment.handle, &stat)
        }
        let attributes = try? FileManager.default.attributesOfItem(atPath: path + "/data.mdb")
        let pages = try environment.pageUse()
        return StoreStatistics(headPosition: head, keys: keys,
                               fileBytes: (attributes?[.size] as? NSNumber)?.int64Value ?? 0,
                               mapBytes: info.me_mapsize,
                               usedBytes: (info.me_last_pgno + 1) * Int(stat.ms_psize),
                               freeBytes: pages.free * pages.pageSize)
    }

    /// Writes a consistent copy of the log (every record up to one commit, with the consumers'
    /// checkpoints and the other tables of that commit) into `directory`, while appends go on.
    /// `directory` is created when missing and must not hold a store. With `compact`, free
    /// pages are left out: the copy can be much smaller than the file. The copy is the same
    /// store (its store id), as of that commit. Projections live in environments of their own:
    /// `kiroku backup` copies them first (``ProjectionCatalog``), so each is at or before the
    /// log copy's head and catches up when the copy is used.
    ///
    /// - Throws: ``KirokuError/Code/backupTargetInUse`` when `directory` holds a store,
    ///   ``KirokuError/Code/permissionDenied``, ``KirokuError/Code/storageFailure``.
    public func backup(to directory: String, compact: Bool = false) throws {
        try Self.prepareBackup(directory)
        do {
            try environment.copy(to: directory, compact: compact)
        } catch {
            throw KirokuError(status: error, path: directory, doing: "copying the store")
        }
    }

    /// Creates `directory` (0700) when missing; refuses one that holds a store.
    package static func prepareBackup(_ directory: String) throws {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue, !manager.fileExists(atPath: directory + "/data.mdb") else {
                throw KirokuError(.backupTargetInUse, "\(directory) holds a store or is a file; give a new or empty directory for the backup, so none is written over another store.", path: directory)
            }
        } else {
            do {
                try manager.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw KirokuError(.permissionDenied, "Cannot create the backup directory \(directory): \((error as NSError).localizedDescription); choose a writable location.", path: directory)
            }
        }
    }
}
