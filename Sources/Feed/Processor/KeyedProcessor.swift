import AsyncAlgorithms
import Foundation
import KirokuLog
import Logging
import ServiceLifecycle

/// Runs a handler on every record of a selection, in parallel across keys and in order within
/// each key, with retries, dead letters and a durable checkpoint: the in-process replacement
/// for a stream + Lambda pipeline.
///
/// ```swift
/// let indexer = KeyedProcessor(log: log, consumer: "search-indexer", selection: .prefix("activity-")) { record in
///     try await index(record)
/// }
/// let group = ServiceGroup(services: [indexer], logger: logger)
/// try await group.run()   // or: try await indexer.run()
/// ```
///
/// - **Order**: records of one key go to one lane (of `lanes`), which handles them one at a
///   time in log order; different keys run in parallel.
/// - **Failures**: a handler that throws is retried with exponential backoff and full jitter,
///   up to `maxAttempts`; then the record goes to the dead-letter store and the key policy
///   applies (`continue`, or `holdKey`: later records of the key wait). Other keys never wait.
/// - **Delivery**: at least once. The checkpoint is the low watermark of completed positions,
///   committed every `checkpointInterval` and on shutdown; after a crash, the records that were
///   in flight (at most `(lanes × (laneCapacity + 1) + 1) × batchSize`) are delivered again.
///   Make the handler idempotent, or use a projection (exactly-once).
/// - **Memory** is bounded: a slow handler fills its lane's queue and the reader waits.
/// - **Shutdown**: on graceful shutdown (ServiceLifecycle) or cancellation it stops reading,
///   cancels waits and handlers, and commits the checkpoint of what completed.
public final class KeyedProcessor: Service, Sendable {
    /// The log read.
    public let log: EventLog
    /// The consumer's name: its checkpoint and dead letters are kept under it.
    public let consumer: String
    /// Which records the handler gets.
    public let selection: Selection
    /// How it runs.
    public let configuration: Configuration
    private let logger: Logger
    private let handler: @Sendable (Record) async throws -> Void
    private let metrics: ProcessorMetrics
    private let state = Locked(RunState())

    private struct RunState {
        var watermark: Watermark?
        var stop: AsyncStream<Void>.Continuation?
        var nudge: AsyncStream<Void>.Continuation?
        /// `stop()` came before the run was ready to hear it; the run stops as soon as it is.
        var stopRequested = false
    }

    /// Consumers running in this process, by store; a second processor of one consumer of one
    /// store would double-deliver.
    private static let running = Locked<Set<RunningConsumer>>([])

    private struct RunningConsumer: Hashable {
        let log: ObjectIdentifier
        let consumer: ExactString
    }

    /// Makes a processor; nothing runs until ``run()``.
    public init(log: EventLog, consumer: String, selection: Selection = .all, configuration: Configuration = Configuration(),
                logger: Logger = Logger(label: "kiroku.feed", factory: { _ in SwiftLogNoOpLogHandler() }),
                handler: @escaping @Sendable (Record) async throws -> Void) {
        self.log = log
        self.consumer = consumer
        self.selection = selection
        self.configuration = configuration
        self.logger = logger
        self.handler = handler
        self.metrics = ProcessorMetrics(consumer: consumer)
    }

    /// Records dispatched to lanes and not yet completed, now and at most since the run began.
    public var inFlight: (now: Int, peak: Int) {
        state.withLock { $0.watermark }?.inFlight ?? (0, 0)
    }

    /// Runs until graceful shutdown, cancellation, or an error reading the log.
    ///
    /// - Throws: ``KirokuError`` with ``KirokuError/Code/invalidProcessorOption``,
    ///   ``KirokuError/Code/invalidConsumerName``, ``KirokuError/Code/consumerBusy``, or what
    ///   reading the log throws (``KirokuError/Code/closed``, ``KirokuError/Code/corruption``).
    public func run() async throws {
        try configuration.validate()
        try ConsumerName.validate(consumer)
        let claim = RunningConsumer(log: ObjectIdentifier(log), consumer: ExactString(consumer))
        let claimed = Self.running.withLock { $0.insert(claim).inserted }
        guard claimed else {
            throw KirokuError(.consumerBusy, "Consumer '\(consumer)' already has a processor running in this process; run one per consumer (raise lanes for more parallelism).")
        }
        defer { _ = Self.running.withLock { $0.remove(claim) } }
        // One owner across processes: wait for (or refuse) another process's lease.
        let lease = try await ConsumerLease(log: log, consumer: consumer, ttl: configuration.leaseDuration)
        do {
            try await lease.acquire(wait: configuration.waitForLease, until: { [state] in state.withLock { $0.stopRequested } })
        } catch is CancellationError {
            state.withLock { $0 = RunState() }
            return
        }
        try await lease.hold { try await self.runOwning(lease) }
    }

    /// The run, once this process holds the consumer's lease.
    private func runOwning(_ lease: ConsumerLease) async throws {
        let consumers = try await Consumers(log: log)
        let deadLetters = try await DeadLetters(log: log)
        let startAfter: UInt64
        if let checkpoint = try consumers.checkpoint(of: consumer) {
            startAfter = checkpoint
        } else {
            switch configuration.start {
            case .beginning, .checkpoint: startAfter = 0
            case .end: startAfter = try log.headPosition()
            case .position(let position): startAfter = max(position, 1) - 1
            case .time(let date):
                let head = try log.headPosition()
                startAfter = try log.position(atOrAfter: date).map { max($0, 1) - 1 } ?? head
            }
            try await consumers.commit(consumer, position: startAfter, stallAfter: configuration.stallAfter, lease: lease)
        }
        let watermark = Watermark(startingAfter: startAfter)
        let (stopSignal, stopContinuation) = AsyncStream<Void>.makeStream()
        let (nudges, nudgeContinuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let stoppedEarly = state.withLock { state in
            state.watermark = watermark
            state.stop = stopContinuation
            state.nudge = nudgeContinuation
            return state.stopRequested
        }
        if stoppedEarly { stopContinuation.yield() }

        let start = try await startingState(deadLetters)
        let channels = (0..<configuration.lanes).map { _ in AsyncChannel<LaneMessage>() }
        // Control's messages to lanes go through these (never blocking control), and a
        // forwarder per lane waits for room in the lane.
        let inboxes = (0..<configuration.lanes).map { _ in AsyncStream<LaneMessage>.makeStream() }
        for message in start.messages { inboxes[lane(of: message.key)].continuation.yield(message.message) }
        let context = LaneContext(consumer: consumer, configuration: configuration, handler: handler, log: log,
                                  deadLetters: deadLetters, watermark: watermark, metrics: metrics, logger: logger)
        logger.info("Feed processor started", metadata: [
            "consumer": "\(consumer)", "after": "\(startAfter)", "lanes": "\(configuration.lanes)",
        ])

        var failure: (any Error)?
        await withGracefulShutdownHandler {
            await withTaskGroup(of: (any Error)?.self) { group in
                for (index, channel) in channels.enumerated() {
                    let worker = LaneWorker(context: context, channel: channel,
                                            initiallyHeld: start.heldKeys.filter { self.lane(of: $0) == index })
                    group.addTask { await worker.run() }
                    let inbox = inboxes[index].stream
                    group.addTask {
                        for await message in inbox { await channel.send(message) }
                        return nil
                    }
                }
                group.addTask {
                    do {
                        try await self.dispatch(after: startAfter, to: channels, watermark: watermark)
                        return nil
                    } catch {
                        return error
                    }
                }
                group.addTask {
                    return await self.control(consumers: consumers, lease: lease, deadLetters: deadLetters,
                                              inboxes: inboxes.map(\.continuation), watermark: watermark, nudges: nudges)
                }
                group.addTask {
                    for await _ in stopSignal { break }
                    return nil
                }
                // The first task to end (stop signal, cancellation, a read error) ends them all.
                if let first = await group.next() { failure = first }
                group.cancelAll()
                for inbox in inboxes { inbox.continuation.finish() }
                for channel in channels { channel.finish() }
                for await result in group where failure == nil { failure = result }
            }
        } onGracefulShutdown: {
            self.stop()
        }
        state.withLock { $0 = RunState() }
        // The final checkpoint: everything completed before the stop.
        let position = watermark.position
        do {
            // Fenced by the lease: after `lease-lost` this commit is refused and writes nothing.
            try await consumers.commit(consumer, position: position, lease: lease)
        } catch {
            logger.error("Could not commit the final checkpoint", metadata: ["consumer": "\(consumer)", "error": "\(error)"])
            if failure == nil { failure = error }
        }
        logger.info("Feed processor stopped", metadata: ["consumer": "\(consumer)", "checkpoint": "\(position)"])
        if let failure, !(failure is CancellationError) { throw failure }
    }

    /// Stops a running processor as graceful shutdown does: stop reading, commit the checkpoint.
    ///
    /// Called before the run is under way (during its start-up), it stops the run as soon as it is.
    public func stop() {
        let stop = state.withLock { state in
            state.stopRequested = true
            return state.stop
        }
        stop?.yield()
    }

    /// Asks for a dead letter to be retried now (see ``DeadLetters/retry(consumer:position:)``).
    public func retryDeadLetter(at position: UInt64) async throws {
        try await DeadLetters(log: log).retry(consumer: consumer, position: position)
        nudge()
    }

    /// Skips a dead letter now, releasing its key's held records (see ``DeadLetters/skip(consumer:position:)``).
    public func skipDeadLetter(at position: UInt64) async throws {
        try await DeadLetters(log: log).skip(consumer: consumer, position: position)
        nudge()
    }

    private func nudge() {
        _ = state.withLock { $0.nudge }?.yield()
    }

    /// The lane of a key: a stable hash (FNV-1a), so a key keeps its lane across restarts.
    func lane(of key: String) -> Int {
        Int(FNV1a.hash(key.utf8) % UInt64(configuration.lanes))
    }

    /// Reads the log from after the checkpoint and hands each selected record to its key's lane.
    private func dispatch(after position: UInt64, to channels: [AsyncChannel<LaneMessage>], watermark: Watermark) async throws {
        let feed = EventFeed(log: log, selection: selection, from: .position(position + 1), batchSize: configuration.batchSize)
        // One message per lane per read batch: a channel hand-off costs task switches, so it
        // carries all of the batch's records of that lane, in order.
        var perLane = [[Record]](repeating: [], count: channels.count)
        for try await batch in feed.batches {
            watermark.dispatched(batch.records.map(\.position))
            for record in batch.records { perLane[lane(of: record.key)].append(record) }
            for index in perLane.indices where !perLane[index].isEmpty {
                await channels[index].send(.records(perLane[index]))
                perLane[index].removeAll(keepingCapacity: true)
                if Task.isCancelled { return }
            }
            watermark.scanned(through: batch.throughPosition)
        }
    }

    /// What the dead-letter store says when the processor starts, read a page at a time: the
    /// keys its lanes hold, and the retries and releases to hand them (those asked for while no
    /// processor ran, or taken by one that stopped before it handled them). It also fills in the
    /// key index of letters written before the index existed.
    private func startingState(_ deadLetters: DeadLetters) async throws -> (heldKeys: Set<String>, messages: [(key: String, message: LaneMessage)]) {
        var heldKeys = Set<String>()
        var holding = Set<String>()
        var retries: [(key: String, message: LaneMessage)] = []
        var after: UInt64?
        while true {
            let page = try deadLetters.list(consumer: consumer, after: after, limit: 500)
            guard let last = page.last else { break }
            for letter in page {
                if letter.state == .held || letter.holdsKey { heldKeys.insert(letter.key) }
                if letter.state != .held && letter.holdsKey { holding.insert(letter.key) }
                if letter.state == .retryRequested { retries.append((letter.key, .retry(letter))) }
            }
            try await log.write(try page.flatMap { try deadLetters.indexWrites($0) })
            after = last.position
        }
        let releases = heldKeys.subtracting(holding).sorted().map { (key: $0, message: LaneMessage.release($0)) }
        // Pending requests stay: control hands them over too. A request handled twice is
        // harmless (a lane acts on what the store says), and one cleared here could have been
        // written after the letters were read.
        return (heldKeys, retries + releases)
    }

    /// Every `checkpointInterval` (or when nudged): commits the checkpoint, updates the lag, and
    /// hands the retries and releases operators asked for to their lanes. It reads only the
    /// requests (a page at a time), never the whole dead-letter store, and never waits for a
    /// lane: its messages queue in the lane's inbox.
    private func control(consumers: Consumers, lease: ConsumerLease, deadLetters: DeadLetters, inboxes: [AsyncStream<LaneMessage>.Continuation],
                         watermark: Watermark, nudges: AsyncStream<Void>) async -> (any Error)? {
        var committed = watermark.position
        let ticks = AsyncTimerSequence(interval: configuration.checkpointInterval, clock: .continuous).map { _ in () }
        for await _ in merge(ticks, nudges) {
            if Task.isCancelled { return nil }
            do {
                let position = watermark.position
                if position != committed {
                    try await consumers.commit(consumer, position: position, lease: lease)
                    committed = position
                }
                let head = try log.headPosition()
                metrics.lag.record(Double(head > position ? head - position : 0))

                let requests = try deadLetters.pendingRequests(consumer: consumer, limit: 256)
                for request in requests {
                    let message: LaneMessage
                    switch request.request {
                    case .retry:
                        guard let letter = try deadLetters.letter(consumer: consumer, position: request.position) else { continue }
                        message = .retry(letter)
                    case .release:
                        message = .release(request.key)
                    }
                    inboxes[lane(of: request.key)].yield(message)
                }
                try await deadLetters.clearRequests(consumer: consumer, positions: requests.map(\.position))
                if requests.count == 256 { nudge() }
            } catch let error as KirokuError where error.code == .leaseLost {
                // Another process owns the consumer now: stop, committing nothing more.
                return error
            } catch {
                logger.error("Feed control step failed; will try again", metadata: ["consumer": "\(consumer)", "error": "\(error)"])
            }
        }
        return nil
    }
}
