import Foundation
import KirokuLog

/// `kiroku bench lifecycle`: retention and compaction of many records beside LMDB deleting
/// the same number of records alone, a backup beside `mdb_env_copy2` alone, and what a
/// removal running in steps does to a concurrent appender's latency.
struct LifecycleBench {
    let directory: String
    let records: Int
    let payload: Int
    let step: Int

    struct Results {
        var fields: [String: Any] = [:]
        var lines: [String] = []
    }

    func run() async throws -> Results {
        var results = Results()
        let keys = max(1, records / 20)
        results.fields["records"] = records
        results.fields["payloadBytes"] = payload
        results.fields["keys"] = keys
        results.fields["step"] = step

        // 1. Retention by age: every record older than the cutoff, all but the head.
        let aged = directory + "/aged"
        try await fill(aged, keys: keys)
        let agedCopy = directory + "/aged-raw"
        let agedLog = try EventLog(path: aged)
        _ = try LifecycleBaselines.copy(agedLog, to: agedCopy, compact: false)
        try await Task.sleep(for: .milliseconds(20))
        try await agedLog.setRetention([.maxAge(.milliseconds(10))])
        var start = ContinuousClock.now
        let retention = try await agedLog.enforceRetention(stepSize: step)
        let retentionSeconds = (ContinuousClock.now - start).seconds
        agedLog.close()
        let rawRetention = try LifecycleBaselines.deleteOldestRecords(path: agedCopy, count: retention.removed, perTransaction: step)
        results.fields["retentionRemoved"] = retention.removed
        results.fields["retentionSeconds"] = retentionSeconds
        results.fields["rawDeleteSeconds"] = rawRetention
        results.lines.append("retention (max-age): removed \(retention.removed) in \(f(retentionSeconds)) s (\(rate(retention.removed, retentionSeconds))/s); raw LMDB deletes \(f(rawRetention)) s")
        try? FileManager.default.removeItem(atPath: aged)
        try? FileManager.default.removeItem(atPath: agedCopy)

        // 2. Compaction (the latest record per key), with an appender running beside it.
        let compacted = directory + "/compacted"
        try await fill(compacted, keys: keys)
        let log = try EventLog(path: compacted)
        defer { log.close() }
        let fileBytes = Self.size(compacted + "/data.mdb")
        results.fields["storeBytes"] = fileBytes

        // 3. Backups of the full store: kiroku's (copy + verify) beside mdb_env_copy2 alone.
        let copyRaw = try LifecycleBaselines.copy(log, to: directory + "/raw-copy", compact: false)
        let compactRaw = try LifecycleBaselines.copy(log, to: directory + "/raw-compact", compact: true)
        start = ContinuousClock.now
        try log.backup(to: directory + "/backup")
        let copy = try EventLog(path: directory + "/backup")
        let verified = try copy.verify().isClean
        copy.close()
        let backupSeconds = (ContinuousClock.now - start).seconds
        start = ContinuousClock.now
        try log.backup(to: directory + "/backup-compact", compact: true)
        let compactSeconds = (ContinuousClock.now - start).seconds
        results.fields["backupSeconds"] = backupSeconds
        results.fields["backupCompactSeconds"] = compactSeconds
        results.fields["rawCopySeconds"] = copyRaw
        results.fields["rawCompactCopySeconds"] = compactRaw
        results.fields["backupVerified"] = verified
        results.lines.append("backup of \(fileBytes / 1_048_576) MiB: copy + verify \(f(backupSeconds)) s, --compact \(f(compactSeconds)) s; mdb_env_copy2 alone \(f(copyRaw)) s, compacting \(f(compactRaw)) s")
        for name in ["raw-copy", "raw-compact", "backup", "backup-compact"] { try? FileManager.default.removeItem(atPath: directory + "/" + name) }

        // The appender alone, then beside the compaction.
        let alone = try await appendLatencies(log, while: { ContinuousClock.now < $0 + .seconds(3) })
        try await log.setRetention([.compact(prefix: "k")])
        let done = Locked(false)
        let step = self.step
        let removal = Task {
            defer { done.withLock { $0 = true } }
            return try await log.enforceRetention(stepSize: step)
        }
        let beside = try await appendLatencies(log, while: { _ in !done.withLock { $0 } })
        let compaction = try await removal.value
        let compactionSeconds = beside.seconds
        results.fields["compactionRemoved"] = compaction.removed
        results.fields["compactionSeconds"] = compactionSeconds
        results.fields["appendAlone"] = alone.latencies.summary()
        results.fields["appendDuringRemoval"] = beside.latencies.summary()
        results.lines.append("compaction: removed \(compaction.removed) in \(f(compactionSeconds)) s (\(rate(compaction.removed, compactionSeconds))/s), \(compaction.steps) steps")
        results.lines.append("appender alone:         \(alone.latencies.line())")
        results.lines.append("appender during removal: \(beside.latencies.line())")
        let raw = directory + "/compacted-raw"
        _ = try LifecycleBaselines.copy(log, to: raw, compact: false)
        results.fields["rawCompactionDeleteSeconds"] = try LifecycleBaselines.deleteOldestRecords(path: raw, count: compaction.removed, perTransaction: step)
        try? FileManager.default.removeItem(atPath: raw)
        return results
    }

    /// One durable single-event appender, while `condition` holds.
    private func appendLatencies(_ log: EventLog, while condition: (ContinuousClock.Instant) -> Bool) async throws -> (latencies: Latencies, seconds: Double) {
        let latencies = Latencies()
        let start = ContinuousClock.now
        let payload = Data(repeating: 0x61, count: self.payload)
        var i = 0
        while condition(start) {
            let began = ContinuousClock.now
            try await log.append(to: "appender-\(i % 100)", EventData(type: "Measured", payload: payload))
            latencies.record(ContinuousClock.now - began)
            i += 1
        }
        return (latencies, (ContinuousClock.now - start).seconds)
    }

    /// `records` records of `payload` bytes on `keys` keys, 1,000 a commit.
    private func fill(_ path: String, keys: Int) async throws {
        var options = EventLog.Options()
        options.durability = .noSync(flushInterval: .seconds(1))
        let log = try EventLog(path: path, options: options)
        defer { log.close() }
        let payload = Data(repeating: 0x62, count: self.payload)
        var written = 0
        while written < records {
            let count = min(1000, records - written)
            try await log.append((0..<count).map { AppendGroup(key: "k\((written + $0) % keys)", events: [EventData(type: "Filled", payload: payload)]) })
            written += count
        }
    }

    static func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    private func f(_ seconds: Double) -> String { String(format: "%.2f", seconds) }
    private func rate(_ count: Int, _ seconds: Double) -> String { String(format: "%.0f k", Double(count) / max(seconds, 1e-9) / 1000) }
}
