import CLMDB
import Foundation

/// Sizes and counts of a store, for operators (`kiroku stats`).
public struct StoreStatistics: Sendable, Hashable, Codable {
    /// The position of the last record (the number of records appended; less are stored once
    /// retention removed some: ``removedRecords``).
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
    /// The lowest position a record is stored at (0 for an empty log): above 1 once retention
    /// removed the oldest records.
    public var firstPosition: UInt64 = 0
    /// Records removed by retention, compaction, truncation and deletions.
    public var removedRecords: UInt64 = 0
    /// The highest position retention removed a record a feed may not have read; a feed
    /// resuming below it gets `position-removed` (0: none).
    public var removedThrough: UInt64 = 0
    /// Records whose payloads were erased.
    public var erasedRecords: UInt64 = 0
    /// Whether an erasure's freed pages still wait to be zeroed (the writer does it when the
    /// erasure's steps are done and no reader holds the pages; ``EventLog/scrubFreePages(readerWait:)``).
    public var scrubPending = false
}

extension EventLog {
    /// Counts and sizes of the store: records, keys, file size, map size and use.
    public func statistics() throws -> StoreStatistics {
        let (head, keys, first, removed, through, erased, scrub) = try withReadTransaction { txn in
            let first: UInt64 = try txn.withCursor(layout.records) { cursor in try cursor.get(MDB_FIRST).map { BigEndianKey.value($0.key) } ?? 0 }
            return (try layout.headPosition(in: txn), try txn.entryCount(layout.keys), first,
                    try layout.counter(Lifecycle.removedRecordsKey, in: txn),
                    try layout.counter(Lifecycle.removedThroughKey, in: txn),
                    try layout.counter(Lifecycle.erasedRecordsKey, in: txn),
                    try layout.counter(Lifecycle.scrubPendingKey, in: txn) != 0)
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
                               freeBytes: pages.free * pages.pageSize,
                               firstPosition: first, removedRecords: removed, removedThrough: through,
                               erasedRecords: erased, scrubPending: scrub)
    }
}
