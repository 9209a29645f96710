// `make demo`: a tour of the Log module on a fresh store. The CLI issue replaces it with `kiroku demo`.
import Foundation
import Log

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
        let report = try log.verify()
        print("Head position: \(try log.headPosition()); verify: \(report.recordsChecked) records, \(report.isClean ? "clean" : "\(report.problems.count) problems")")
        log.close()
        try? FileManager.default.removeItem(atPath: path)
    }
}

extension Duration {
    var timeInterval: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
