import Foundation
import KirokuLog

/// The named, durable consumers of a log: their checkpoints, lag and health.
///
/// A checkpoint is the position up to which a consumer has handled every record it was given.
/// It lives in the log's own environment (table `feed-consumers`) and is committed through the
/// log's writer, so it batches with appends and a consumer resumes from it after a restart.
public struct Consumers: Sendable {
    /// The log the consumers read.
    public let log: EventLog
    let table: LogTable

    /// Stored per consumer, as JSON.
    struct Stored: Codable {
        var position: UInt64
        /// When the position last moved forward.
        var progressAt: Date
        /// After how long without progress, while behind, the consumer counts as stalled.
        var stallAfterSeconds: Double
    }

    /// Opens the consumers of `log` (creating their table on first use).
    public init(log: EventLog) async throws {
        self.log = log
        table = try await log.table(named: "feed-consumers")
    }

    /// The consumer's checkpoint, or `nil` when it has none yet.
    public func checkpoint(of name: String) throws -> UInt64? {
        try stored(name)?.position
    }

    /// Commits the consumer's checkpoint. Moving it back (to replay) is allowed; only moving
    /// forward counts as progress.
    ///
    /// - Parameters:
    ///   - stallAfter: how long the consumer may be behind without progress before it
    ///     reports itself stalled; kept from the last commit when `nil` (default 60 s).
    ///   - lease: the consumer's lease this process holds: the commit is fenced by it (it
    ///     commits only while the lease is still this process's, in the same transaction).
    /// - Throws: `lease-lost` when another process took the lease over.
    public func commit(_ name: String, position: UInt64, stallAfter: Duration? = nil, lease: ConsumerLease? = nil) async throws {
        try ConsumerName.validate(name)
        while true {
            let now = Date()
            let old = try stored(name)
            let stored = Stored(
                position: position,
                progressAt: old.map { position > $0.position ? now : $0.progressAt } ?? now,
                stallAfterSeconds: stallAfter.map(Self.seconds) ?? old?.stallAfterSeconds ?? 60)
            var writes: [TableWrite] = []
            if let lease { writes.append(try lease.fence()) }
            writes.append(.put(table, key: Array(name.utf8), value: Array(try JSONEncoder().encode(stored))))
            do {
                try await log.write(writes)
                return
            } catch let error as KirokuError where error.code == .tableConflict && lease != nil {
                // A renewal rewrote the lease between the fence's read and this write: look again.
                continue
            }
        }
    }

    /// Forgets a consumer: its checkpoint (its dead letters stay until purged).
    public func remove(_ name: String) async throws {
        try ConsumerName.validate(name)
        try await log.write([.delete(table, key: Array(name.utf8))])
    }

    /// Every consumer with its position, lag and health, by name.
    public func list(now: Date = Date()) throws -> [ConsumerStatus] {
        let head = try log.headPosition()
        return try log.allEntries(in: table).compactMap { key, value in
            guard let stored = try? JSONDecoder().decode(Stored.self, from: Data(value)) else { return nil }
            return try status(String(decoding: key, as: UTF8.self), stored, head: head, now: now)
        }
    }

    /// One consumer's status, or `nil` when it has no checkpoint.
    public func status(of name: String, now: Date = Date()) throws -> ConsumerStatus? {
        guard let stored = try stored(name) else { return nil }
        return try status(name, stored, head: log.headPosition(), now: now)
    }

    private func status(_ name: String, _ stored: Stored, head: UInt64, now: Date) throws -> ConsumerStatus {
        let lagRecords = head > stored.position ? head - stored.position : 0
        var lagSeconds: Double = 0
        if lagRecords > 0, let oldest = try log.record(at: stored.position + 1) {
            lagSeconds = max(0, now.timeIntervalSince(oldest.timestamp))
        }
        let idle = now.timeIntervalSince(stored.progressAt)
        return ConsumerStatus(
            name: name, position: stored.position, lagRecords: lagRecords, lagSeconds: lagSeconds,
            lastProgress: stored.progressAt,
            isStalled: lagRecords > 0 && lagSeconds > stored.stallAfterSeconds && idle > stored.stallAfterSeconds)
    }

    private func stored(_ name: String) throws -> Stored? {
        try ConsumerName.validate(name)
        guard let bytes = try log.value(in: table, for: Array(name.utf8)) else { return nil }
        do {
            return try JSONDecoder().decode(Stored.self, from: Data(bytes))
        } catch {
            throw KirokuError(.corruption, "The checkpoint of consumer '\(name)' is damaged (\(error)); commit a new position for it.")
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        duration.seconds
    }
}

/// Where a consumer is and whether it is healthy.
public struct ConsumerStatus: Sendable, Hashable {
    /// The consumer's name.
    public let name: String
    /// Its checkpoint: every record up to here has been handled.
    public let position: UInt64
    /// How many records the log holds past the checkpoint.
    public let lagRecords: UInt64
    /// How long ago the oldest record past the checkpoint was committed; 0 when caught up.
    public let lagSeconds: Double
    /// When the checkpoint last moved forward.
    public let lastProgress: Date
    /// Behind for longer than its stall time with no progress for as long: a gray failure that
    /// looks alive from outside. A caught-up consumer is never stalled.
    public let isStalled: Bool
}
