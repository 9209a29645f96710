extension KeyedProcessor {
    /// What happens to a key after one of its records is dead-lettered.
    public enum KeyPolicy: Sendable, Hashable {
        /// Later records of the key are handled as usual. The default.
        case `continue`
        /// Later records of the key wait (parked as `held` dead letters, in order) until the
        /// dead letter is retried successfully or skipped; other keys never wait.
        case holdKey
    }

    /// How a processor runs.
    public struct Configuration: Sendable {
        /// Handlers running at once; each key always goes to the same lane. 1 to 1024; default 8.
        public var lanes = 8
        /// Handler runs per record before it is dead-lettered. Default 4.
        public var maxAttempts = 4
        /// The wait before the second attempt; it doubles for each later one, with full jitter.
        public var initialBackoff: Duration = .milliseconds(100)
        /// The longest wait between attempts.
        public var maxBackoff: Duration = .seconds(10)
        /// What happens to a key after one of its records is dead-lettered.
        public var keyPolicy: KeyPolicy = .continue
        /// Read batches queued per lane before the reader waits (backpressure). Default 4. At
        /// most `(lanes × (laneCapacity + 1) + 1) × batchSize` records are in memory at once.
        public var laneCapacity = 4
        /// How often the checkpoint is committed (and dead-letter retries are looked for).
        public var checkpointInterval: Duration = .seconds(1)
        /// Where a consumer without a checkpoint starts: `.beginning` (default), `.end` or a position.
        public var start: FeedStart = .beginning
        /// Records read per read transaction.
        public var batchSize = 256
        /// How long the consumer may be behind without progress before it reports itself stalled.
        public var stallAfter: Duration = .seconds(60)
        /// How many times a write to the dead-letter store is tried (with backoff from 10 ms,
        /// doubling to 1 s) before the processor stops with `dead-letter-write-failed`. The lane
        /// waits meanwhile, so its keys keep their order.
        public var deadLetterWriteAttempts = 10
        /// How long the consumer's lease lasts without renewal (``ConsumerLease``): one process
        /// runs the consumer at a time, and another takes over at most this long (plus a quarter
        /// of it) after the holder dies. Renewed every third of it. Default 10 s.
        public var leaseDuration: Duration = .seconds(10)
        /// When another process holds the lease: wait for it (the default), or fail at once
        /// with `consumer-busy`.
        public var waitForLease = true

        /// The defaults: 8 lanes, 4 attempts from 100 ms backoff, `continue`, checkpoint every second.
        public init() {}

        func validate() throws {
            func check(_ ok: Bool, _ message: String) throws {
                if !ok { throw KirokuError(.invalidProcessorOption, message) }
            }
            try check((1...1024).contains(lanes), "lanes must be between 1 and 1024 (got \(lanes)).")
            try check(maxAttempts >= 1, "maxAttempts must be at least 1 (got \(maxAttempts)).")
            try check(initialBackoff >= .zero && maxBackoff >= initialBackoff, "Backoff needs 0 ≤ initialBackoff ≤ maxBackoff.")
            try check(laneCapacity >= 1, "laneCapacity must be at least 1 (got \(laneCapacity)).")
            try check(checkpointInterval > .zero, "checkpointInterval must be positive.")
            try check(batchSize >= 1, "batchSize must be at least 1 (got \(batchSize)).")
            try check(leaseDuration >= .milliseconds(100), "leaseDuration must be at least 100 ms (got \(leaseDuration)).")
            try check(deadLetterWriteAttempts >= 1, "deadLetterWriteAttempts must be at least 1 (got \(deadLetterWriteAttempts)).")
            if case .checkpoint = start { try check(false, "start must be .beginning, .end or a position: the processor's own checkpoint comes first anyway.") }
        }
    }
}

import KirokuLog
