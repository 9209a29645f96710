import AsyncAlgorithms
import Foundation
import KirokuLog
import Logging

/// What a lane is asked to do, in the order it must be done.
enum LaneMessage: Sendable {
    /// Handle these records from the log, in order (one read batch's records of this lane).
    case records([Record])
    /// Run the handler again on a dead letter whose retry was asked for.
    case retry(DeadLetter)
    /// The dead letter that held this key is gone (skipped): handle its held records in order.
    case release(String)
}

/// What a lane shares with the others.
struct LaneContext: Sendable {
    let consumer: String
    let configuration: KeyedProcessor.Configuration
    let handler: @Sendable (Record) async throws -> Void
    let log: EventLog
    let deadLetters: DeadLetters
    let watermark: Watermark
    let metrics: ProcessorMetrics
    let logger: Logger
}

/// One lane: handles its messages one at a time, so the records of a key (always the same
/// lane) are handled in log order.
struct LaneWorker: Sendable {
    let context: LaneContext
    let channel: AsyncChannel<LaneMessage>
    /// Keys held by a dead letter under `holdKey` when the processor started.
    let initiallyHeld: Set<String>

    enum Outcome {
        case succeeded
        case failed(String, attempts: Int)
        case cancelled
    }

    /// Handles messages until the channel ends. Returns the error that stopped the lane: a
    /// dead-letter write that failed every attempt. The lane then handles nothing more (a later
    /// record of the key must not run before the one it could not record), and the processor
    /// stops with that error; the record was not completed, so it is delivered again.
    func run() async -> (any Error)? {
        var held = initiallyHeld
        var failure: (any Error)?
        // Once cancelled (or failed), messages are skipped but the loop runs on until the
        // buffer ends: leaving it early leaks the buffer's task and the records it holds
        // (apple/swift-async-algorithms#352; found by LeakSanitizer).
        for await message in channel.buffer(policy: .bounded(context.configuration.laneCapacity)) {
            if Task.isCancelled || failure != nil { continue }
            do {
                switch message {
                case .records(let records):
                    for record in records {
                        if Task.isCancelled { break }
                        try await handle(record, held: &held)
                    }
                case .retry(let letter):
                    try await retry(letter, held: &held)
                case .release(let key):
                    try await release(key, held: &held)
                }
            } catch is CancellationError {
            } catch {
                context.logger.error("Feed lane could not record a dead letter; the processor stops and the record is delivered again when it runs again", metadata: [
                    "consumer": "\(context.consumer)", "error": "\(error)",
                ])
                failure = error
                return error
            }
        }
        return failure
    }

    /// A write to the dead-letter store, tried again with backoff (10 ms doubling to 1 s) while
    /// it fails. The lane waits meanwhile, so the records of its keys keep their order.
    private func persist(_ what: String, position: UInt64, _ write: () async throws -> Void) async throws {
        var attempt = 1
        var wait = Duration.milliseconds(10)
        while true {
            do {
                try await write()
                return
            } catch {
                if Task.isCancelled { throw CancellationError() }
                guard attempt < context.configuration.deadLetterWriteAttempts else {
                    throw KirokuError(.deadLetterWriteFailed, "Consumer '\(context.consumer)' could not \(what) for the record at position \(position) after \(attempt) attempts (\(error)); the processor stopped so that no later record of its key runs first. Fix the cause (disk space?) and run it again: the record is delivered again.", position: position)
                }
                context.logger.warning("Dead-letter write failed; trying again", metadata: [
                    "consumer": "\(context.consumer)", "position": "\(position)", "attempt": "\(attempt)", "error": "\(error)",
                ])
                try await Task.sleep(for: wait)
                wait = min(wait * 2, .seconds(1))
                attempt += 1
            }
        }
    }

    private func handle(_ record: Record, held: inout Set<String>) async throws {
        if held.contains(record.key) {
            try await persist("park a held record", position: record.position) {
                try await context.deadLetters.save(DeadLetter(
                    consumer: context.consumer, position: record.position, key: record.key, type: record.type,
                    error: "held behind an earlier dead letter of key '\(record.key)'", attempts: 0, time: Date(),
                    state: .held, holdsKey: false))
            }
            context.watermark.completed(record.position)
            return
        }
        switch await attempt(record, times: context.configuration.maxAttempts) {
        case .succeeded:
            context.watermark.completed(record.position)
        case .failed(let error, let attempts):
            let holds = context.configuration.keyPolicy == .holdKey
            try await persist("record a dead letter", position: record.position) {
                try await context.deadLetters.save(DeadLetter(
                    consumer: context.consumer, position: record.position, key: record.key, type: record.type,
                    error: error, attempts: attempts, time: Date(), state: .failed, holdsKey: holds))
            }
            context.metrics.deadLettered.increment()
            context.logger.warning("Record dead-lettered", metadata: [
                "consumer": "\(context.consumer)", "position": "\(record.position)", "key": "\(record.key)",
                "attempts": "\(attempts)", "error": "\(error)",
            ])
            if holds { held.insert(record.key) }
            context.watermark.completed(record.position)
        case .cancelled:
            break
        }
    }

    private func retry(_ letter: DeadLetter, held: inout Set<String>) async throws {
        guard let current = try context.deadLetters.letter(consumer: letter.consumer, position: letter.position),
              current.state == .retryRequested else { return }
        guard let record = try context.log.record(at: letter.position) else {
            try await persist("remove a dead letter", position: letter.position) { try await context.deadLetters.remove(current) }
            return
        }
        switch await attempt(record, times: context.configuration.maxAttempts) {
        case .succeeded:
            try await persist("remove a retried dead letter", position: letter.position) { try await context.deadLetters.remove(current) }
            context.logger.info("Dead letter retried successfully", metadata: [
                "consumer": "\(context.consumer)", "position": "\(record.position)",
            ])
            if current.holdsKey { try await release(record.key, held: &held) }
        case .failed(let error, let attempts):
            try await persist("record a failed retry", position: letter.position) {
                try await context.deadLetters.save(current.failing(error, attempts: current.attempts + attempts, holdsKey: current.holdsKey))
            }
        case .cancelled:
            break
        }
    }

    /// Handles the key's held records in order, until one fails (which then holds the key).
    ///
    /// The dead-letter store decides, not the message: while a letter of the key still holds
    /// it (a release asked for twice, or one that arrives after a retry failed again), the key
    /// stays held and nothing runs. Held letters are read a page at a time.
    private func release(_ key: String, held: inout Set<String>) async throws {
        if try context.deadLetters.holdsKey(consumer: context.consumer, key: key) {
            held.insert(key)
            return
        }
        held.remove(key)
        var after: UInt64?
        while true {
            let parked = try context.deadLetters.heldLetters(consumer: context.consumer, key: key, after: after, limit: 64)
            guard let lastParked = parked.last else { return }
            for letter in parked {
                guard let record = try context.log.record(at: letter.position) else {
                    try await persist("remove a dead letter", position: letter.position) { try await context.deadLetters.remove(letter) }
                    continue
                }
                switch await attempt(record, times: context.configuration.maxAttempts) {
                case .succeeded:
                    try await persist("remove a released record", position: letter.position) { try await context.deadLetters.remove(letter) }
                case .failed(let error, let attempts):
                    try await persist("record a dead letter", position: letter.position) {
                        try await context.deadLetters.save(letter.failing(error, attempts: attempts, holdsKey: true))
                    }
                    context.metrics.deadLettered.increment()
                    held.insert(key)
                    return
                case .cancelled:
                    held.insert(key)
                    return
                }
            }
            after = lastParked.position
        }
    }

    /// Runs the handler up to `times` times, with exponential backoff and full jitter between.
    func attempt(_ record: Record, times: Int) async -> Outcome {
        var lastError = ""
        for attempt in 1...times {
            if Task.isCancelled { return .cancelled }
            let start = ContinuousClock.now
            do {
                try await context.handler(record)
                context.metrics.handlerDuration.recordNanoseconds((ContinuousClock.now - start).nanoseconds)
                context.metrics.processed.increment()
                return .succeeded
            } catch {
                context.metrics.handlerDuration.recordNanoseconds((ContinuousClock.now - start).nanoseconds)
                if Task.isCancelled { return .cancelled }
                context.metrics.failed.increment()
                lastError = String(describing: error)
                context.logger.debug("Handler failed", metadata: [
                    "consumer": "\(context.consumer)", "position": "\(record.position)", "attempt": "\(attempt)", "error": "\(error)",
                ])
            }
            if attempt < times {
                do {
                    try await Task.sleep(for: backoff(afterAttempt: attempt))
                } catch {
                    return .cancelled
                }
            }
        }
        return .failed(lastError, attempts: times)
    }

    /// Full jitter: a random wait up to `initial × 2^(attempt-1)`, capped at `maxBackoff`.
    func backoff(afterAttempt attempt: Int) -> Duration {
        let initial = context.configuration.initialBackoff.nanoseconds
        let cap = context.configuration.maxBackoff.nanoseconds
        let ceiling = min(cap, initial << min(attempt - 1, 40))
        guard ceiling > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...ceiling))
    }

}
