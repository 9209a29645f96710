import KirokuLog

/// The records of a selection in log order: first those already committed, then each new one
/// as soon as its commit is done, without end. An `AsyncSequence`; iterate it with `for try await`.
///
/// ```swift
/// for try await record in EventFeed(log: log, selection: .prefix("order-"), from: .beginning) {
///     try await project(record)
/// }
/// ```
///
/// Reading catches up in short read transactions of at most `batchSize` records, then waits for
/// the log to grow: no record is skipped or delivered twice at the switch, whatever appends
/// race with it, because positions are gapless and the feed asks for exactly the next one.
/// Memory is bounded by one batch: the feed reads only when its consumer asks for more.
///
/// Iteration ends (returns `nil`) when its task is cancelled; it throws when the log is closed
/// or a record is damaged.
public struct EventFeed: AsyncSequence, Sendable {
    public typealias Element = Record

    /// The log read.
    public let log: EventLog
    /// Which records are delivered.
    public let selection: Selection
    /// Where delivery starts.
    public let start: FeedStart
    /// The most records read in one read transaction.
    public let batchSize: Int

    /// Makes a feed; nothing is read until it is iterated.
    public init(log: EventLog, selection: Selection = .all, from start: FeedStart = .beginning, batchSize: Int = 256) {
        self.log = log
        self.selection = selection
        self.start = start
        self.batchSize = Swift.max(1, batchSize)
    }

    /// The same feed, a batch at a time: each element holds the selected records of one read
    /// (at most `batchSize`) and the position read through. A batch is empty when a whole read
    /// held no selected record: it still moves `throughPosition`, so a consumer can checkpoint
    /// past records it was not given.
    public var batches: Batches { Batches(feed: self) }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(batches: Batches.AsyncIterator(feed: self))
    }

    /// Iterates records.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var batches: Batches.AsyncIterator
        var buffer: [Record] = []
        var index = 0

        public mutating func next() async throws -> Record? {
            while index == buffer.count {
                guard let batch = try await batches.next() else { return nil }
                buffer = batch.records
                index = 0
            }
            defer { index += 1 }
            return buffer[index]
        }
    }

    /// The feed as batches; see ``EventFeed/batches``.
    public struct Batches: AsyncSequence, Sendable {
        public typealias Element = FeedBatch
        let feed: EventFeed

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(feed: feed) }

        /// Iterates batches.
        public struct AsyncIterator: AsyncIteratorProtocol {
            let feed: EventFeed
            /// The next position to read; resolved from `start` on the first call.
            var next: UInt64?

            /// `.end` is taken when iteration begins, not at the first `next()`, so records
            /// appended in between are delivered.
            init(feed: EventFeed) {
                self.feed = feed
                if case .end = feed.start, let head = try? feed.log.headPosition() { next = head + 1 }
            }

            public mutating func next() async throws -> FeedBatch? {
                var position: UInt64
                if let next {
                    position = next
                } else {
                    position = try await resolve(feed.start)
                }
                while true {
                    if Task.isCancelled { return nil }
                    let records = try feed.log.readAll(from: position, limit: feed.batchSize)
                    guard let last = records.last else {
                        do {
                            _ = try await feed.log.waitForAppends(after: position - 1)
                        } catch is CancellationError {
                            return nil
                        }
                        continue
                    }
                    position = last.position + 1
                    next = position
                    return FeedBatch(records: records.filter(feed.selection.matches), throughPosition: last.position)
                }
            }

            private func resolve(_ start: FeedStart) async throws -> UInt64 {
                switch start {
                case .beginning: return 1
                case .end: return try feed.log.headPosition() + 1
                case .position(let position): return Swift.max(1, position)
                case .checkpoint(let name): return (try await Consumers(log: feed.log).checkpoint(of: name) ?? 0) + 1
                case .time(let date): return try feed.log.position(atOrAfter: date) ?? (try feed.log.headPosition() + 1)
                }
            }
        }
    }
}
