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
}
