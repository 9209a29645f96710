import Foundation

extension EventLog {
    /// What an erasure did.
    public struct ErasureReport: Sendable, Hashable, Codable {
        /// The erasure's marker (its position and version), `nil` when the key had no events.
        public var marker: StoredEvent?
        /// The key's stored records the erasure covers (every one below its marker): their
        /// payloads and metadata are gone when ``EventLog/erase(key:readerWait:)`` returns.
        public var records = 0
        /// The scrub of freed pages that followed.
        public var scrub = ScrubReport()
    }

    /// Deletes a key: appends a deletion marker at the next position (feeds deliver it:
    /// ``Record/deletion``), hides the key's history at once, and removes it in bounded steps
    /// of the writer.
    ///
    /// - `.soft`: the key may be written again; its versions go on after the marker's, and an
    ///   append with `.noStream` starts it again.
    /// - `.hard`: a tombstone; every later append to the key fails with `key-deleted`.
    ///
    /// - Returns: the marker's position and version, or `nil` when there was nothing to delete
    ///   (no events, already closed, or soft-deleted with nothing written since).
    /// - Throws: ``KirokuError/Code/replicaReadOnly`` on a read replica, storage errors.
    @discardableResult
    public func delete(key: String, mode: Record.Deletion = .soft) async throws -> StoredEvent? {
        try Self.validate(key: key)
        guard case .marked(let marker, _) = try await writer.submit(.mark(key: key, deletion: mode, erase: false)) else {
            preconditionFailure("the writer answered a deletion with another outcome")
        }
        return marker
    }

    /// Erases a key: appends an erasure marker (a soft deletion: feeds deliver it, views drop
    /// what they held for the key), rewrites every stored record of the key without its
    /// payload and metadata, then zeroes the freed pages of the file, so none of those bytes
    /// remain in `data.mdb` or in a backup made afterwards. The envelopes stay (position,
    /// key, version, type, id, timestamp; ``Record/isErased``), so positions stay gapless and
    /// `verify` stays clean. The key may be written again.
    ///
    /// A page that a reader's snapshot (of any process) still reads cannot be zeroed yet; the
    /// erasure retries for up to `readerWait`, and reports what is left in
    /// ``ErasureReport/scrub`` (``scrubFreePages()`` finishes it later).
    public func erase(key: String, readerWait: Duration = .seconds(5)) async throws -> ErasureReport {
        try Self.validate(key: key)
        var report = ErasureReport()
        guard case .marked(let marker, let covered) = try await writer.submit(.mark(key: key, deletion: .soft, erase: true)) else {
            preconditionFailure("the writer answered an erasure with another outcome")
        }
        report.marker = marker
        report.records = covered
        // The writer may have started on it meanwhile; this finishes it.
        _ = try await runLifecycleSteps(run: nil, budget: 10_000)
        report.scrub = try await scrubFreePages(readerWait: readerWait)
        return report
    }

    /// Hides the key's versions below `version` at once and removes them in bounded steps
    /// (EventStoreDB's truncate-before). The key's latest version always stays. A feed behind
    /// them skips them, as it skips a compaction's.
    public func truncate(key: String, before version: UInt64) async throws {
        try Self.validate(key: key)
        _ = try await writer.submit(.truncate(key: key, before: version))
    }

    /// Stores the retention policies (replacing the ones stored); ``enforceRetention(stepSize:)``
    /// applies them. An empty list removes them all.
    ///
    /// - Throws: ``KirokuError/Code/invalidRetention`` for a policy that cannot apply as given.
    public func setRetention(_ policies: [RetentionPolicy]) async throws {
        for policy in policies { try policy.validate() }
        _ = try await writer.submit(.setRetention(policies))
    }

    /// The stored retention policies.
    public func retention() throws -> [RetentionPolicy] {
        try withReadTransaction { txn in try Lifecycle.policies(layout: layout, in: txn) }
    }

    /// Applies the stored retention policies, and the work deletions left, in steps of at
    /// most `stepSize` records, each one of the writer's transactions (appends go on between
    /// them), until nothing is left to remove.
    @discardableResult
    public func enforceRetention(stepSize: Int = 10_000) async throws -> RetentionReport {
        try await runLifecycleSteps(run: UInt64.random(in: 1...UInt64.max), budget: stepSize)
    }

    /// Finishes what deletions, erasures and truncations left (the writer does it in idle
    /// moments too), without applying the retention policies.
    @discardableResult
    public func finishPendingRemovals(stepSize: Int = 10_000) async throws -> RetentionReport {
        try await runLifecycleSteps(run: nil, budget: stepSize)
    }

    /// Applies the retention policies every `interval` until the task is cancelled (for a
    /// service: run it in a task of its own, or a ServiceLifecycle service).
    public func runRetention(every interval: Duration, stepSize: Int = 10_000) async throws {
        while !Task.isCancelled {
            try await enforceRetention(stepSize: stepSize)
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }

    /// Zeroes every free page of the file that no reader's snapshot can reach (see
    /// ``ErasureReport``). Retries while readers hold pages, for up to `readerWait`.
    public func scrubFreePages(readerWait: Duration = .seconds(5)) async throws -> ScrubReport {
        let deadline = ContinuousClock.now + readerWait
        while true {
            guard case .scrubbed(let report) = try await writer.submit(.scrub) else {
                preconditionFailure("the writer answered a scrub with another outcome")
            }
            if report.pagesPending == 0 || ContinuousClock.now >= deadline { return report }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    private func runLifecycleSteps(run: UInt64?, budget: Int) async throws -> RetentionReport {
        var total = RetentionReport()
        repeat {
            guard case .stepped(let step) = try await writer.submit(.lifecycleStep(run: run, budget: max(1, budget))) else {
                preconditionFailure("the writer answered a lifecycle step with another outcome")
            }
            total.add(step)
        } while total.more
        return total
    }

    /// The position below which retention may have removed records a feed had not read
    /// (0 when it never did): a feed may resume after a checkpoint at or above it, or start
    /// from the beginning, but not resume below it (`position-removed`).
    public func removedThrough() throws -> UInt64 {
        try withReadTransaction { txn in try layout.counter(Lifecycle.removedThroughKey, in: txn) }
    }

    /// Whether the log once held a record at `position` that retention, compaction or a
    /// deletion removed (for layers that check a record they applied is still there).
    package func wasRemoved(_ position: UInt64) throws -> Bool {
        try withReadTransaction { txn in
            guard position > 0, position <= (try layout.headPosition(in: txn)),
                  try layout.counter(Lifecycle.removedRecordsKey, in: txn) > 0 else { return false }
            return try BigEndianKey(position).withBytes { try txn.get(layout.records, $0) } == nil
        }
    }
}
