// `make demo`: a tour of the Log module on a fresh store. The CLI issue replaces it with `kiroku demo`.
import Feed
import Foundation
import Log
import Synchronization

struct OrderPlaced: Codable { var item: String; var quantity: Int }
struct OrderShipped: Codable { var carrier: String }

@main
struct KirokuDemo {
    static func main() async throws {
        let path = CommandLine.arguments.count > 1
            ? CommandLine.arguments[1]
            : FileManager.default.temporaryDirectory.appendingPathComponent("kiroku-demo-\(getpid())").path
        try? FileManager.default.removeItem(atPath: path)
        let log = try EventLog(path: path)
        print("Opened a new store at \(path)")

        let placed = try await log.append(to: "order-1", .json(OrderPlaced(item: "tea", quantity: 2), type: "OrderPlaced", id: "cmd-1"),
                                          expected: .noStream)
        print("Appended OrderPlaced to order-1: position \(placed.position), version \(placed.version)")

        let retried = try await log.append(to: "order-1", .json(OrderPlaced(item: "tea", quantity: 2), type: "OrderPlaced", id: "cmd-1"),
                                           expected: .noStream)
        print("Retried the same append (same id): got position \(retried.position) again, nothing written")

        do {
            try await log.append(to: "order-1", .json(OrderShipped(carrier: "yamato"), type: "OrderShipped"), expected: .exact(5))
        } catch let error as KirokuError {
            print("Appending with a stale expected version fails: \(error.code) (expected \(error.expectedVersion!), actual \(error.actualVersion!))")
        }

        let groups = try await log.append([
            AppendGroup(key: "order-1", events: [try .json(OrderShipped(carrier: "yamato"), type: "OrderShipped")], expected: .exact(1)),
            AppendGroup(key: "stock-tea", events: [EventData(type: "StockReserved", payload: Data("2".utf8))], expected: .any),
        ])
        print("Atomic two-key append: " + groups.map { "\($0.key)@v\($0.version) (position \($0.position))" }.joined(separator: ", "))

        let start = ContinuousClock.now
        let appenders = 64
        let perAppender = 50
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<appenders {
                group.addTask {
                    for i in 0..<perAppender {
                        try await log.append(to: "sensor-\(task % 8)", EventData(type: "Reading", payload: Data("{\"value\":\(i)}".utf8)))
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - start
        let total = appenders * perAppender
        print("\(appenders) tasks appended \(total) durable events in \(elapsed.formatted(.units(allowed: [.milliseconds]))) " +
              "(\(Int(Double(total) / elapsed.timeInterval)) events/s, group commit)")

        print("\nHistory of order-1:")
        for record in try log.read(key: "order-1") {
            print("  v\(record.version) @\(record.position) \(record.type) \(String(decoding: record.payload, as: UTF8.self))")
        }
        print("Newest event of sensor-3: v\(try log.read(key: "sensor-3", from: .max, direction: .backward, limit: 1)[0].version)")
        print("Keys with prefix 'order': \(try log.keys(prefix: "order"))")
        print("First 3 records of the log:")
        for record in try log.readAll(from: 1, limit: 3) {
            print("  @\(record.position) \(record.key) v\(record.version) \(record.type)")
        }
        try await followTheLog(log)

        let report = try log.verify()
        print("Head position: \(try log.headPosition()); verify: \(report.recordsChecked) records, \(report.isClean ? "clean" : "\(report.problems.count) problems")")
        log.close()
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// The change feed: a keyed processor with lanes, retries and a dead letter, then live delivery.
func followTheLog(_ log: EventLog) async throws {
    try await log.append(to: "sensor-9", EventData(type: "Reading", payload: Data("poison".utf8)))
    let handled = Mutex(0)
    let lastDelivery = Mutex<Date?>(nil)
    var configuration = KeyedProcessor.Configuration()
    configuration.lanes = 8
    configuration.maxAttempts = 3
    configuration.initialBackoff = .milliseconds(5)
    let processor = KeyedProcessor(log: log, consumer: "demo-indexer", selection: .prefix("sensor-"),
                                   configuration: configuration) { record in
        if record.payload == Data("poison".utf8) { throw DemoError.poison }
        handled.withLock { $0 += 1 }
        lastDelivery.withLock { $0 = Date() }
    }
    let running = Task { try await processor.run() }
    while handled.withLock({ $0 }) < 3200 { try await Task.sleep(for: .milliseconds(5)) }
    print("\nA keyed processor (8 lanes, per-key order) handled \(handled.withLock { $0 }) sensor readings")

    let deadLetters = try await DeadLetters(log: log)
    while try deadLetters.list(consumer: "demo-indexer").isEmpty { try await Task.sleep(for: .milliseconds(5)) }
    let letter = try deadLetters.list(consumer: "demo-indexer")[0]
    print("The poison record at position \(letter.position) failed \(letter.attempts) times and went to the dead letters: \(letter.error)")

    var latencies: [Double] = []
    for i in 0..<20 {
        let before = handled.withLock { $0 }
        let appended = Date()
        try await log.append(to: "sensor-live", EventData(type: "Reading", payload: Data("{\"value\":\(i)}".utf8)))
        while handled.withLock({ $0 }) == before { await Task.yield() }
        latencies.append(lastDelivery.withLock { $0! }.timeIntervalSince(appended) * 1_000_000)
    }
    latencies.sort()
    print("Live: an append reached its handler in \(Int(latencies[10])) µs (median of 20, including the fsync)")
    processor.stop()
    try await running.value
    let status = try await Consumers(log: log).status(of: "demo-indexer")!
    print("Consumer demo-indexer: checkpoint \(status.position), lag \(status.lagRecords) records, \(status.isStalled ? "stalled" : "ok")")
}

enum DemoError: Error, CustomStringConvertible {
    case poison
    var description: String { "cannot parse reading" }
}

extension Duration {
    var timeInterval: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
