import Foundation

/// What `kiroku bench lifecycle` sets Kiroku's removal and backup beside: LMDB doing the same
/// work with nothing of Kiroku's (no key index, ids, versions, verify). Not API.
package enum LifecycleBaselines {
    /// Deletes the first `count` entries of the `records` database of the store at `path` (not
    /// open in this process), `perTransaction` a commit, with a cursor: the least work any
    /// removal of those records can do. Returns the seconds it took.
    package static func deleteOldestRecords(path: String, count: Int, perTransaction: Int) throws -> Double {
        let environment = try Environment(path: path, configuration: .init(
            mapSize: 1 << 36, maxReaders: 8, maxDatabases: UInt32(EventLog.maxDatabases), flags: 0, fileMode: 0o600))
        defer { environment.close() }
        let start = ContinuousClock.now
        var left = count
        while left > 0 {
            let done: Int = try environment.write { txn in
                try txn.deleteFirst(try Environment.openDatabase(txn, name: "records", flags: 0), count: min(left, perTransaction))
            }
            if done == 0 { break }
            left -= done
        }
        return (ContinuousClock.now - start).seconds
    }

    /// `mdb_env_copy2` of the log's environment alone (no directory checks, no verify).
    package static func copy(_ log: EventLog, to directory: String, compact: Bool) throws -> Double {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let start = ContinuousClock.now
        try log.environment.copy(to: directory, compact: compact)
        return (ContinuousClock.now - start).seconds
    }
}
