import CLMDB
import Foundation
import Logging

/// The store's single writer: one thread that owns every write transaction of this process.
///
/// Appends from any number of tasks are queued; the writer drains the queue into one
/// transaction (group commit), so N concurrent appenders share one fsync. Each request is
/// checked alone, and one that fails never fails the others of its batch.
///
/// After a failed flush (or a commit that failed with an I/O error) the writer stops: every
/// later append fails with `flush-failed` until the store is reopened. On Linux the pages of a
/// failed writeback may already be dropped from the cache, so a flush that succeeds later does
/// not make the earlier appends durable (PostgreSQL stops for the same reason).
///
/// `@unchecked Sendable`: `pending`, `stopping` and `failure` are only touched with `condition`
/// locked; `unsynced` and `lastFlush` only on the writer thread; the rest is immutable.
final class Writer: @unchecked Sendable {
    private struct Pending {
        let operation: WriteOperation
        let continuation: CheckedContinuation<WriteOutcome, any Error>
    }

    private let environment: Environment
    private let layout: StoreLayout
    private let durability: Durability
    private let maxBatch: Int
    private let logger: Logger
    /// Called on the writer thread after each commit that moved the head, with the new head.
    private let onCommit: @Sendable (UInt64) -> Void
    private let condition = NSCondition()
    private var pending: [Pending] = []
    private var stopping = false
    /// Set when a flush or commit lost writes; every later operation fails with it.
    private var failure: KirokuError?
    /// When the last flush succeeded (or the writer started), for the failure's message.
    private var lastFlush = Date()
    /// When set, a submit that brings the queue to this length wakes the coalescing writer.
    private var wakeAt = 0
    /// The size of the last batch, which tells how many appenders are active (writer thread only).
    private var lastBatchSize = 0
    private let coalesceWindow: TimeInterval
    private var unsynced = false
    /// Whether the store is a read replica, once that is settled for good (writer thread
    /// only): a replica stays one, and a store read as no replica while it held records can
    /// never become one (a replica starts empty). Saves reading `meta` on every commit.
    private var settledReplicaOf: UUID??
    /// Whether the `lifecycle` table may hold work (deletions, erasures, truncations) that the
    /// writer does in bounded steps while no append is queued (writer thread only).
    private var lifecycleWork: Bool
    /// When an owed scrub found pages a reader still holds: not before this is it tried again
    /// (writer thread only).
    private var lifecycleRetryAt: Date?
    private var retryDelay: TimeInterval = 0.05
    private var lifecycleDue: Bool { lifecycleWork && (lifecycleRetryAt.map { Date() >= $0 } ?? true) }
    /// The records one idle lifecycle step removes or erases at most.
    static let idleStepBudget = 2_000
    private let finished = DispatchSemaphore(value: 0)
    private let metrics = WriterMetrics()

    init(environment: Environment, layout: StoreLayout, durability: Durability, maxBatch: Int,
         coalesceWindow: Duration, logger: Logger, onCommit: @escaping @Sendable (UInt64) -> Void) {
        self.coalesceWindow = coalesceWindow.seconds
        self.onCommit = onCommit
        self.environment = environment
        self.layout = layout
        self.durability = durability
        self.maxBatch = max(1, maxBatch)
        self.logger = logger
        let owed = (try? environment.read { txn in
            (try Lifecycle.hasQueuedWork(layout: layout, in: txn), try layout.counter(Lifecycle.scrubPendingKey, in: txn) != 0)
        }) ?? (false, false)
        self.lifecycleWork = owed.0 || owed.1
        let thread = Thread { [self] in run() }
        thread.name = "kiroku-writer"
        thread.start()
    }

    /// Queues an operation and waits for the commit that includes it.
    func submit(_ operation: WriteOperation) async throws -> WriteOutcome {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            if let failure {
                condition.unlock()
                continuation.resume(throwing: failure)
                return
            }
            if stopping {
                condition.unlock()
                continuation.resume(throwing: KirokuError(.closed, "The log is closed; open it again to append.", path: environment.path))
                return
            }
            pending.append(Pending(operation: operation, continuation: continuation))
            if pending.count == 1 || pending.count == wakeAt { condition.signal() }
            condition.unlock()
        }
    }

    /// Commits what is queued, stops the thread and waits for it. Later appends fail with `.closed`.
    func stop() {
        condition.lock()
        let wasStopping = stopping
        stopping = true
        condition.signal()
        condition.unlock()
        if !wasStopping { finished.wait() }
    }

    private var flushInterval: Duration? {
        if case .noSync(let interval) = durability { return interval }
        return nil
    }

    private func run() {
        var nextFlush = flushInterval.map { Date() + $0.seconds }
        while true {
            condition.lock()
            while pending.isEmpty && !stopping {
                if lifecycleDue && failure == nil { break }
                // Wake for the next flush, or for the next try of an owed scrub.
                let deadline = [nextFlush, lifecycleWork ? lifecycleRetryAt : nil].compactMap { $0 }.min()
                if let deadline {
                    if !condition.wait(until: deadline) { break }
                } else {
                    condition.wait()
                }
            }
            if pending.isEmpty && !stopping && lifecycleDue && failure == nil {
                condition.unlock()
                idleLifecycleStep()
                continue
            }
            coalesce()
            let batch: [Pending]
            if pending.count <= maxBatch {
                batch = pending
                pending.removeAll(keepingCapacity: true)
            } else {
                batch = Array(pending.prefix(maxBatch))
                pending.removeFirst(maxBatch)
            }
            let done = stopping && pending.isEmpty
            let failed = failure
            condition.unlock()

            if let failed {
                failAll(batch, with: failed)
                if done { break }
                continue
            }
            if !batch.isEmpty {
                lastBatchSize = batch.count
                // Appends first, in their own commit; each removal step in one of its own
                // after them, so an append never waits for more than the step running.
                let steps = batch.filter { if case .lifecycleStep = $0.operation { true } else { false } }
                if steps.isEmpty || steps.count == batch.count {
                    commit(batch)
                } else {
                    commit(batch.filter { if case .lifecycleStep = $0.operation { false } else { true } })
                    for step in steps { commit([step]) }
                }
            }
            if let interval = flushInterval, let deadline = nextFlush, done || Date() >= deadline {
                flush()
                nextFlush = Date() + interval.seconds
            }
            if done && batch.isEmpty { break }
        }
        finished.signal()
    }

    /// With `condition` locked: when the last batch was large and few appends are queued yet,
    /// waits up to the coalescing window for about half as many. Right after a commit, the
    /// appenders it released are still coming back; committing the first one alone would cost
    /// a whole fsync for one event and split the rest into alternating small and large batches.
    /// A single appender never waits: its last batch was one append.
    private func coalesce() {
        guard coalesceWindow > 0, !stopping, pending.count < lastBatchSize / 2 else { return }
        wakeAt = lastBatchSize / 2
        let deadline = Date(timeIntervalSinceNow: coalesceWindow)
        while pending.count < wakeAt && !stopping {
            if !condition.wait(until: deadline) { break }
        }
        wakeAt = 0
    }

    /// Zeroes the free pages no snapshot reaches; when none is left pinned by a reader, the
    /// scrub an erasure owed is paid (`meta` "scrub-pending" back to 0).
    private func scrub(timestampMicros: Int64) throws -> ScrubReport {
        var owed = false
        let report = try environment.scrubFreePages { txn in
            owed = try layout.counter(Lifecycle.scrubPendingKey, in: txn) != 0
            try layout.setCounter("scrubbed-at", UInt64(max(0, timestampMicros)), in: txn)
        }
        if owed && report.pagesPending == 0 {
            try environment.write { txn in try layout.setCounter(Lifecycle.scrubPendingKey, 0, in: txn) }
        }
        return report
    }

    /// One bounded step of the queued lifecycle work, while no append waits.
    private func idleLifecycleStep() {
        do {
            var more = false
            var scrubOwed = false
            try environment.write { txn in
                var step = try Lifecycle(layout: layout, txn: txn, head: try layout.headPosition(in: txn), budget: Self.idleStepBudget)
                more = try step.runQueue()
                try step.finish()
                scrubOwed = try layout.counter(Lifecycle.scrubPendingKey, in: txn) != 0
            }
            if flushInterval != nil { unsynced = true }
            lifecycleRetryAt = nil
            if !more && scrubOwed {
                // A reader that pins pages leaves it owed: tried again a little later (and by
                // the next erasure, the next open, or scrubFreePages()).
                let report = try scrub(timestampMicros: Int64((Date().timeIntervalSince1970 * 1_000_000).rounded()))
                if report.pagesPending > 0 {
                    // Backing off to every 5 s: each try reopens the environment.
                    retryDelay = min(5, retryDelay * 2)
                    lifecycleRetryAt = Date() + retryDelay
                    return
                }
            }
            retryDelay = 0.05
            lifecycleWork = more
        } catch let status as LMDBStatus where status == .mapFull {
            do { try growMap() } catch { lifecycleWork = false }
        } catch {
            // Left in the table: the next deletion, or the next open, tries again.
            logger.warning("A lifecycle step failed", metadata: ["path": "\(environment.path)", "error": "\(error)"])
            lifecycleWork = false
        }
    }

    private func flush() {
        guard unsynced, failure == nil else { return }
        do {
            let started = ContinuousClock.now
            try environment.sync()
            metrics.flushDuration.record(duration: ContinuousClock.now - started)
            unsynced = false
            lastFlush = Date()
        } catch {
            stop(after: KirokuError(
                .flushFailed,
                "Flushing the log to disk failed (\(error)); appends acknowledged since the last good flush (\(lastFlush.formatted(.iso8601))) may not be on disk, and the log accepts no more appends. Check the disk (dmesg), then close the store, open it again and run verify.",
                path: environment.path, underlyingCode: error.code))
        }
    }

    /// Stops accepting writes after a failure that may have lost acknowledged ones.
    private func stop(after error: KirokuError) {
        logger.critical("The log stopped accepting appends", metadata: ["path": "\(environment.path)", "error": "\(error)"])
        condition.lock()
        if failure == nil { failure = error }
        condition.unlock()
    }

    private func commit(_ batch: [Pending]) {
        while true {
            var outcomes: [Result<WriteOutcome, KirokuError>] = []
            outcomes.reserveCapacity(batch.count)
            do {
                let timestamp = Int64((Date().timeIntervalSince1970 * 1_000_000).rounded())
                var startHead: UInt64 = 0
                var endHead: UInt64 = 0
                var replicaLearned: UUID??
                var queued = false
                var scrubs: [Int] = []
                let started = ContinuousClock.now
                try environment.write { txn in
                    startHead = try layout.headPosition(in: txn)
                    var planner = AppendPlanner(layout: layout, head: startHead, timestampMicros: timestamp,
                                                replicaOf: settledReplicaOf)
                    for request in batch {
                        switch request.operation {
                        case .append(let groups):
                            outcomes.append(try planner.apply(groups, in: txn).map(WriteOutcome.appended))
                        case .appendEach(let groups, let stopAtFirstError):
                            var results: [Result<AppendResult, KirokuError>] = []
                            results.reserveCapacity(groups.count)
                            for group in groups {
                                let result = try planner.apply([group], in: txn).map { $0[0] }
                                results.append(result)
                                if stopAtFirstError, case .failure = result { break }
                            }
                            outcomes.append(.success(.appendedEach(results)))
                        case .replicate(let records, let source):
                            outcomes.append(try planner.replicate(records, from: source, in: txn).map { .replicated })
                            if records.contains(where: { $0.deletion != nil }) { queued = true }
                        case .mark(let key, let deletion, let erase):
                            outcomes.append(try planner.mark(key, deletion: deletion, erase: erase, in: txn).map { WriteOutcome.marked($0.0, covered: $0.covered) })
                            queued = true
                        case .truncate(let key, let version):
                            outcomes.append(try planner.truncate(key, before: version, in: txn).map { .written })
                            queued = true
                        case .setRetention(let policies):
                            outcomes.append(try Self.isolated(txn, path: environment.path, doing: "storing retention policies") { child in
                                try Lifecycle.setPolicies(policies, layout: layout, in: child)
                                return .written
                            })
                        case .lifecycleStep(let run, let budget):
                            let head = planner.head
                            outcomes.append(try Self.isolated(txn, path: environment.path, doing: "removing records") { child in
                                var step = try Lifecycle(layout: layout, txn: child, head: head, budget: budget)
                                var more = try step.runQueue()
                                if let run { more = try step.runPolicies(run: run, nowMicros: timestamp) || more }
                                try step.finish()
                                step.report.more = more
                                step.report.steps = 1
                                return .stepped(step.report)
                            })
                        case .scrub:
                            scrubs.append(outcomes.count)
                            outcomes.append(.success(.scrubbed(ScrubReport())))
                        case .tables(let writes):
                            let faults = environment.faults
                            outcomes.append(try Self.isolated(txn, path: environment.path, doing: "writing a table") { child in
                                try TableWriter.apply(writes, in: child)
                                if faults.takeTableWrite(writes.map(\.table.name)) { throw LMDBStatus(code: EIO) }
                                return .written
                            })
                        case .openTable(let name):
                            outcomes.append(try Self.isolated(txn, path: environment.path, doing: "opening table '\(name)'") { child in
                                .opened(try Environment.openDatabase(child, name: name, flags: MDB_CREATE))
                            })
                        }
                    }
                    endHead = planner.head
                    if settledReplicaOf == nil, let read = planner.replicaOf, read != nil || startHead > 0 {
                        replicaLearned = read
                    }
                }
                if let replicaLearned { settledReplicaOf = .some(replicaLearned) }
                if queued {
                    lifecycleWork = true
                    lifecycleRetryAt = nil
                }
                for index in scrubs {
                    do {
                        outcomes[index] = .success(.scrubbed(try scrub(timestampMicros: timestamp)))
                    } catch let status as LMDBStatus {
                        outcomes[index] = .failure(KirokuError(status: status, path: environment.path, doing: "scrubbing free pages"))
                    } catch let error as KirokuError {
                        outcomes[index] = .failure(error)
                    } catch {
                        outcomes[index] = .failure(KirokuError(.storageFailure, "Scrubbing free pages failed: \(error).", path: environment.path))
                    }
                }
                if flushInterval != nil { unsynced = true }
                if endHead > startHead {
                    metrics.commitDuration.record(duration: ContinuousClock.now - started)
                    metrics.appended.increment(by: Int64(endHead - startHead))
                    metrics.commitRecords.record(Int64(endHead - startHead))
                    onCommit(endHead)
                }
                for (request, outcome) in zip(batch, outcomes) {
                    request.continuation.resume(with: outcome)
                }
                return
            } catch let status as LMDBStatus where status == .mapFull {
                do {
                    try growMap()
                } catch {
                    failAll(batch, with: KirokuError(status: error, path: environment.path, doing: "growing the map"))
                    return
                }
            } catch let error as KirokuError {
                failAll(batch, with: error)
                return
            } catch let status as LMDBStatus {
                var error = KirokuError(status: status, path: environment.path, doing: "committing appends")
                if status.isIOError, error.code != .diskFull {
                    // The commit's writes or its fsync failed: what reached the disk is unknown.
                    error = KirokuError(
                        .flushFailed,
                        "Committing to the log failed with an I/O error (\(status)); the last appends may or may not be on disk, and the log accepts no more appends. Check the disk (dmesg), then close the store, open it again and run verify.",
                        path: environment.path, underlyingCode: status.code)
                    stop(after: error)
                }
                failAll(batch, with: error)
                return
            } catch {
                failAll(batch, with: KirokuError(.storageFailure, "Committing appends failed: \(error).", path: environment.path))
                return
            }
        }
    }

    /// Runs one table operation in a nested transaction, so that its failure fails it alone and
    /// the rest of the batch commits. A full map still fails the whole transaction: the writer
    /// grows the map and commits the batch again.
    private static func isolated(_ txn: Transaction, path: String, doing action: String,
                                 _ body: (Transaction) throws -> WriteOutcome) throws -> Result<WriteOutcome, KirokuError> {
        do {
            return .success(try txn.nested(body))
        } catch let status as LMDBStatus where status == .mapFull {
            throw status
        } catch let status as LMDBStatus where status == .databasesFull {
            return .failure(KirokuError(.tooManyTables, "The store has no room for another table while \(action): an LMDB environment holds at most \(EventLog.maxDatabases) databases, and the log, its consumers and its tables use them all. Reuse a table (prefix its keys) instead of creating one per use.", path: path, underlyingCode: status.code))
        } catch let status as LMDBStatus {
            return .failure(KirokuError(status: status, path: path, doing: action))
        } catch let error as KirokuError {
            return .failure(error)
        }
    }

    private func growMap() throws(LMDBStatus) {
        let current = environment.mapSize
        try environment.grow(to: Environment.grownMapSize(current))
        logger.info("Grew the log's memory map", metadata: [
            "path": "\(environment.path)", "from": "\(current)", "to": "\(environment.mapSize)",
        ])
    }

    private func failAll(_ batch: [Pending], with error: KirokuError) {
        for request in batch { request.continuation.resume(throwing: error) }
    }
}
