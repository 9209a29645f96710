import Foundation
import KirokuFeed
import KirokuLog
import KirokuWriteModel

/// `kiroku bench decide`: decision latency on a key with a long history, with and without a
/// snapshot, decision throughput from concurrent tasks beside plain appends, and reaction
/// throughput beside plain processing.
struct DecideBench {
    let log: EventLog
    let history: Int
    let concurrency: Int
    let keys: Int
    let duration: Double

    enum Tick: DomainEvent {
        case ticked(Int)
        var eventType: String { "Ticked" }
    }

    struct Count: Codable, Sendable {
        var total = 0
        static func evolve(_ state: inout Count, _ event: Tick) {
            if case .ticked(let amount) = event { state.total += amount }
        }
    }

    func run() async throws -> (fields: [String: Any], lines: [String]) {
        var fields: [String: Any] = ["history": history, "concurrency": concurrency, "keys": keys]
        var lines: [String] = []
        let encoder = JSONEncoder()
        var written = 0
        while written < history {
            let count = min(1000, history - written)
            try await log.append(to: "long", try (0..<count).map { _ in try EventData.json(Tick.ticked(1), type: "Ticked", encoder: encoder) })
            written += count
        }
        // 1. One key with `history` events: each decision folds it all, or starts from a snapshot.
        let folded = Latencies()
        for _ in 0..<10 {
            let start = ContinuousClock.now
            _ = try await log.decide(key: "long", initial: Count(), evolve: Count.evolve) { _ in [.ticked(1)] }
            folded.record(ContinuousClock.now - start)
        }
        _ = try await log.decide(key: "long", initial: Count(), snapshots: .every(1), evolve: Count.evolve) { _ in [.ticked(1)] }
        let snapshotted = Latencies()
        for _ in 0..<200 {
            let start = ContinuousClock.now
            _ = try await log.decide(key: "long", initial: Count(), snapshots: .every(1), evolve: Count.evolve) { _ in [.ticked(1)] }
            snapshotted.record(ContinuousClock.now - start)
        }
        fields["decideFolded"] = folded.summary()
        fields["decideSnapshot"] = snapshotted.summary()
        lines.append("decide on a key of \(history) events, folding it: \(folded.line())")
        lines.append("decide on it from a snapshot:            \(snapshotted.line())")

        // 2. Throughput: `concurrency` tasks on `keys` keys, decisions against plain appends.
        let keys = self.keys
        let plain = try await drive { task, n in
            _ = try await log.append(to: "plain-\((task * 7919 + n) % keys)", EventData.json(Tick.ticked(1), type: "Ticked"))
            return 0
        }
        let decided = try await drive { task, n in
            try await log.decide(key: "decide-\((task * 7919 + n) % keys)", initial: Count(), snapshots: .every(50), evolve: Count.evolve) { _ in [.ticked(1)] }.attempts - 1
        }
        fields["appendsPerSecond"] = plain.rate
        fields["decisionsPerSecond"] = decided.rate
        fields["decisionRetries"] = decided.retries
        lines.append("\(concurrency) tasks on \(keys) keys: plain appends \(Int(plain.rate))/s, decisions \(Int(decided.rate))/s (\(decided.retries) retries)")

        // 3. Reactions: a keyed processor over `reactionRecords` orders with a handler that does
        //    nothing, then one that reacts to each with one event (exactly once).
        let orders = Self.reactionRecords
        var appended = 0
        while appended < orders {
            let count = min(1000, orders - appended)
            try await log.append((0..<count).map { i in
                AppendGroup(key: "order-\((appended + i) % 1000)", events: [EventData(type: "OrderPlaced", payload: Data(#"{"n":\#(appended + i)}"#.utf8))])
            })
            appended += count
        }
        let last = try log.headPosition()
        let processed = try await process(through: last) { log, consumer, configuration in
            KeyedProcessor(log: log, consumer: consumer, selection: .prefix("order-"), configuration: configuration) { _ in }
        }
        let reacted = try await process(through: last) { log, consumer, configuration in
            KeyedProcessor.reacting(log: log, consumer: consumer, selection: .prefix("order-"), configuration: configuration) { record in
                [AppendGroup(key: "invoice-\(record.key)", events: [EventData(type: "InvoiceDue", payload: record.payload)])]
            }
        }
        fields["reactionRecords"] = orders
        fields["processedPerSecond"] = Double(orders) / processed
        fields["reactionsPerSecond"] = Double(orders) / reacted
        lines.append("a processor over \(orders) records: plain \(Int(Double(orders) / processed))/s, reacting with one event each \(Int(Double(orders) / reacted))/s")
        return (fields, lines)
    }

    static let reactionRecords = 20_000

    /// Runs a new consumer's processor until its checkpoint reaches `position`; the seconds it took.
    private func process(through position: UInt64,
                         _ make: (EventLog, String, KeyedProcessor.Configuration) -> KeyedProcessor) async throws -> Double {
        var configuration = KeyedProcessor.Configuration()
        configuration.checkpointInterval = .milliseconds(10)
        let consumer = "bench-\(UUID().uuidString.prefix(8))"
        let processor = make(log, consumer, configuration)
        let start = ContinuousClock.now
        let running = Task { try await processor.run() }
        let consumers = try await Consumers(log: log)
        while try (consumers.checkpoint(of: consumer) ?? 0) < position {
            try await Task.sleep(for: .milliseconds(2))
        }
        let seconds = (ContinuousClock.now - start).seconds
        processor.stop()
        try await running.value
        return seconds
    }

    /// Runs `concurrency` tasks calling `body` for `duration` seconds; its result counts retries.
    private func drive(_ body: @escaping @Sendable (Int, Int) async throws -> Int) async throws -> (rate: Double, retries: Int) {
        let deadline = ContinuousClock.now + .seconds(duration)
        let start = ContinuousClock.now
        let totals = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for task in 0..<concurrency {
                group.addTask {
                    var done = 0, retries = 0
                    while ContinuousClock.now < deadline {
                        retries += try await body(task, done)
                        done += 1
                    }
                    return (done, retries)
                }
            }
            var sum = (0, 0)
            for try await (done, retries) in group { sum = (sum.0 + done, sum.1 + retries) }
            return sum
        }
        return (Double(totals.0) / (ContinuousClock.now - start).seconds, totals.1)
    }
}
