import Foundation
import KirokuTestSupport
import Testing
@testable import KirokuFeed
@testable import KirokuLog

/// A seeded fault-injection test of the keyed processor: handlers that fail on a schedule
/// (some records for good until an operator fixes and retries them, some a few times), both
/// key policies, operator retries and skips while it runs, stops and cancellations, and
/// dead-letter writes that fail (sometimes often enough to stop the processor). The trace of
/// every handler call is checked against the model of per-key order and at-least-once
/// delivery. `KIROKU_SEED` replays a run.
@Suite(.timeLimit(.minutes(3))) struct ProcessorFaultTests {
    /// What the handler and the operator did, in one order (a global sequence).
    final class Trace: Sendable {
        enum Event: Sendable {
            case handled(position: UInt64, key: String, succeeded: Bool)
            case skipped(position: UInt64, key: String)
        }
        private let events = Locked<[Event]>([])
        let fixed = Locked<Set<UInt64>>([])
        let attempts = Locked<[UInt64: Int]>([:])

        func append(_ event: Event) { events.withLock { $0.append(event) } }
        var all: [Event] { events.withLock { $0 } }
    }

    @Test(arguments: [KeyedProcessor.KeyPolicy.continue, .holdKey])
    func faultsOnAScheduleKeepPerKeyOrderAndDeliverEverything(policy: KeyedProcessor.KeyPolicy) async throws {
        let seed = SeededGenerator.seed(label: "ProcessorFaultTests(\(policy))")
        var random = SeededGenerator(seed: seed)
        try await withLog(label: "kiroku-feed-fault") { log, _ async throws in
            let trace = Trace()
            let salt = seed
            /// Whether the record fails for good (until fixed) or a number of times first.
            @Sendable func schedule(_ position: UInt64) -> (poison: Bool, transient: Int) {
                let hash = FNV1a.hash(withUnsafeBytes(of: (position ^ salt).littleEndian) { Array($0) })
                return (hash % 11 == 0, hash % 5 == 0 ? Int((hash >> 8) % 3) : 0)
            }
            var configuration = KeyedProcessor.Configuration()
            configuration.lanes = 4
            configuration.laneCapacity = 2
            configuration.batchSize = 16
            configuration.maxAttempts = 3
            configuration.initialBackoff = .milliseconds(1)
            configuration.maxBackoff = .milliseconds(4)
            configuration.checkpointInterval = .milliseconds(10)
            configuration.keyPolicy = policy
            configuration.deadLetterWriteAttempts = 3
            let handler: @Sendable (Record) async throws -> Void = { record in
                let attempt = trace.attempts.withLock { attempts -> Int in
                    attempts[record.position, default: 0] += 1
                    return attempts[record.position]!
                }
                let (poison, transient) = schedule(record.position)
                let fails = (poison && !trace.fixed.withLock { $0.contains(record.position) }) || attempt <= transient
                trace.append(.handled(position: record.position, key: record.key, succeeded: !fails))
                if record.position % 7 == 0 { await Task.yield() }
                if fails { throw Poison() }
            }
            func appendSome(_ count: Int) async throws {
                for _ in 0..<count {
                    try await log.append(to: "k\(Int.random(in: 0..<9, using: &random))", event())
                }
            }
            let deadLetters = try await DeadLetters(log: log)
            try await appendSome(200)
            for round in 0..<8 {
                let processor = KeyedProcessor(log: log, consumer: "faulty", configuration: configuration, handler: handler)
                let running = Task { try await processor.run() }
                try await appendSome(40)
                try await Task.sleep(for: .milliseconds(Int.random(in: 5...40, using: &random)))
                // The operator fixes and retries one dead letter, and skips another (with no
                // fault scheduled: the faults are for the processor's own writes).
                log.environment.faults.clearTableWriteFaults()
                let letters = try deadLetters.list(consumer: "faulty").filter { $0.state == .failed }
                if let letter = letters.randomElement(using: &random) {
                    trace.fixed.withLock { _ = $0.insert(letter.position) }
                    try await processor.retryDeadLetter(at: letter.position)
                }
                if Bool.random(using: &random), let letter = letters.filter({ !trace.fixed.withLock { $0 }.contains($0.position) }).randomElement(using: &random) {
                    trace.append(.skipped(position: letter.position, key: letter.key))
                    try await processor.skipDeadLetter(at: letter.position)
                }
                // Dead-letter writes that fail: up to twice is absorbed by the retries, three
                // times in a row stops the processor with dead-letter-write-failed.
                log.environment.faults.failTableWrites(named: "feed-dead-letters", count: Int.random(in: 0...3, using: &random))
                try await appendSome(20)
                try await Task.sleep(for: .milliseconds(Int.random(in: 5...40, using: &random)))
                if Bool.random(using: &random) { processor.stop() } else { running.cancel() }
                do {
                    try await running.value
                } catch let error as KirokuError where error.code == .deadLetterWriteFailed {
                    // Stopped by the faults, as designed: the record is delivered again next round.
                    #expect(error.position != nil, "seed \(seed) round \(round)")
                }
            }
            // Heal: no more faults, every poison fixed, every dead letter retried until none is left.
            log.environment.faults.clearTableWriteFaults()
            let head = try log.headPosition()
            trace.fixed.withLock { $0.formUnion(1...head) }
            let processor = KeyedProcessor(log: log, consumer: "faulty", configuration: configuration, handler: handler)
            let running = Task { try await processor.run() }
            let consumers = try await Consumers(log: log)
            let drained = await eventually(timeout: .seconds(60)) {
                for letter in (try? deadLetters.list(consumer: "faulty")) ?? [] where letter.state == .failed {
                    try? await processor.retryDeadLetter(at: letter.position)
                }
                let left = (try? deadLetters.list(consumer: "faulty").count) ?? 1
                return left == 0 && (try? consumers.checkpoint(of: "faulty")) == head
            }
            let remaining = try deadLetters.list(consumer: "faulty").prefix(5)
            #expect(drained, "seed \(seed): \(remaining)")
            processor.stop()
            try await running.value

            // At least once: every record succeeded, or the operator skipped it.
            let events = trace.all
            var done = Set<UInt64>()
            for event in events {
                switch event {
                case .handled(let position, _, let succeeded): if succeeded { done.insert(position) }
                case .skipped(let position, _): done.insert(position)
                }
            }
            let missing = (1...head).filter { !done.contains($0) }
            #expect(missing.isEmpty, "seed \(seed): never delivered \(missing.prefix(10))")
            // Per-key order: when a record succeeds, every earlier record of its key has been
            // handled already (continue), or has succeeded or been skipped (holdKey).
            var seen: [String: [UInt64: Bool]] = [:]   // key → position → settled (succeeded or skipped)
            var violations: [String] = []
            for event in events {
                switch event {
                case .handled(let position, let key, let succeeded):
                    if succeeded {
                        let earlier = (try log.read(key: key)).map(\.position).filter { $0 < position }
                        for q in earlier {
                            let state = seen[key]?[q]
                            let ok = policy == .continue ? state != nil : state == true
                            if !ok { violations.append("\(key): \(position) succeeded before \(q) was \(policy == .continue ? "handled" : "settled")") }
                        }
                    }
                    if seen[key]?[position] != true { seen[key, default: [:]][position] = succeeded }
                case .skipped(let position, let key):
                    seen[key, default: [:]][position] = true
                }
            }
            #expect(violations.isEmpty, "seed \(seed): \(violations.prefix(5))")
        }
    }

    /// The first wave's hold-key race: a release that reaches a lane after the key was held
    /// again (here a second release request, as a restart or a repeated request delivers) must
    /// not run the key's later records while an earlier one is dead.
    @Test func aSecondReleaseOfAKeyHeldAgainRunsNothing() async throws {
        try await withLog(label: "kiroku-feed-fault") { log, _ async throws in
            for _ in 0..<3 { try await log.append(to: "k", event()) }
            let poisoned = Locked<Set<UInt64>>([1, 2])
            let succeeded = Locked<[UInt64]>([])
            var configuration = KeyedProcessor.Configuration()
            configuration.keyPolicy = .holdKey
            configuration.maxAttempts = 1
            configuration.checkpointInterval = .milliseconds(10)
            let processor = KeyedProcessor(log: log, consumer: "held", configuration: configuration) { record in
                if poisoned.withLock({ $0.contains(record.position) }) { throw Poison() }
                succeeded.withLock { $0.append(record.position) }
            }
            let running = Task { try await processor.run() }
            let deadLetters = try await DeadLetters(log: log)
            func states() -> [DeadLetter.State] { ((try? deadLetters.list(consumer: "held")) ?? []).map(\.state) }
            #expect(await eventually { states() == [.failed, .held, .held] })
            // Skipping 1 releases the key: 2 runs, fails, and holds the key again.
            try await processor.skipDeadLetter(at: 1)
            #expect(await eventually { states() == [.failed, .held] })
            // A second release of the key.
            try await log.write([.put(deadLetters.requests, key: DeadLetters.key("held", 99), value: [DeadLetters.Request.release.rawValue] + Array("k".utf8))])
            #expect(await eventually { (try? deadLetters.pendingRequests(consumer: "held", limit: 10).isEmpty) == true })
            try await Task.sleep(for: .milliseconds(50))
            #expect(succeeded.withLock { $0 }.isEmpty, "3 ran while 2 was dead")
            #expect(states() == [.failed, .held])
            // Fixing 2 and retrying it runs 2, then 3, in order.
            poisoned.withLock { $0.removeAll() }
            try await processor.retryDeadLetter(at: 2)
            #expect(await eventually { succeeded.withLock { $0 } == [2, 3] })
            processor.stop()
            try await running.value
        }
    }

    /// Control never waits for a lane: with one lane saturated by a slow handler, a retry asked
    /// for a dead letter of another lane runs at once (control used to wait to hand the first
    /// lane its message, and every later message and checkpoint waited with it).
    @Test func aSaturatedLaneDelaysNoOtherLanesRetry() async throws {
        try await withLog(label: "kiroku-feed-fault") { log, _ async throws in
            var configuration = KeyedProcessor.Configuration()
            configuration.lanes = 2
            configuration.laneCapacity = 1
            configuration.batchSize = 1
            configuration.maxAttempts = 1
            configuration.checkpointInterval = .milliseconds(10)
            let gate = Locked(false)
            let poisoned = Locked<Set<String>>(["a-dead", "b-dead"])
            let handled = Locked<[String]>([])
            let probe = KeyedProcessor(log: log, consumer: "x") { _ in }
            // Keys of lane 0 ("a…") and lane 1 ("b…").
            let a = (0..<100).map { "a\($0)" }.first { probe.lane(of: $0) == 0 }!
            let b = (0..<100).map { "b\($0)" }.first { probe.lane(of: $0) == 1 }!
            try await log.append(to: a, EventData(type: "dead"))
            try await log.append(to: b, EventData(type: "dead"))
            let processor = KeyedProcessor(log: log, consumer: "saturated", configuration: configuration) { record in
                if record.type == "dead", poisoned.withLock({ $0.contains(record.key == a ? "a-dead" : "b-dead") }) { throw Poison() }
                if record.type == "slow" {
                    while !gate.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(2)) }
                }
                handled.withLock { $0.append("\(record.key):\(record.type)") }
            }
            let running = Task { try await processor.run() }
            let deadLetters = try await DeadLetters(log: log)
            #expect(await eventually { ((try? deadLetters.list(consumer: "saturated")) ?? []).count == 2 })
            // Lane 0 blocks on a slow record, with more queued behind it.
            for _ in 0..<6 { try await log.append(to: a, EventData(type: "slow")) }
            try await Task.sleep(for: .milliseconds(50))
            poisoned.withLock { $0.removeAll() }
            try await processor.retryDeadLetter(at: 1)   // lane 0's, cannot run yet
            try await processor.retryDeadLetter(at: 2)   // lane 1's
            #expect(await eventually(timeout: .seconds(5)) { handled.withLock { $0 }.contains("\(b):dead") })
            gate.withLock { $0 = true }
            #expect(await eventually { handled.withLock { $0 }.contains("\(a):dead") })
            processor.stop()
            try await running.value
        }
    }
}
