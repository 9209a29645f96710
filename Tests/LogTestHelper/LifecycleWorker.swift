import Foundation
import KirokuLog
import KirokuProjections
import KirokuSearch
import KirokuTestSupport

/// `LogTestHelper lifecycle <store> <acks> <run>`: the lifecycle crash campaign's workload, run
/// until killed: appenders with ids on keys that get soft-deleted, erased and hard-deleted,
/// compacted keys, retention enforced in small steps, and a search view following the log
/// (it drops deleted keys' documents and scrubs after erasures). Each acknowledged append
/// is one line `ack <id> <key> <version> <position>` (see `LifecycleWorkload`).
enum LifecycleWorker {
    static func run(store: String, acks path: String, run: Int) async throws {
        let log = try EventLog(path: store)
        let file = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard file >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        func record(_ line: String) {
            var bytes = Array(line.utf8)
            _ = bytes.withUnsafeMutableBytes { write(file, $0.baseAddress, $0.count) }
        }
        try await log.setRetention([.compact(prefix: "c-")])
        let view = SearchView(name: LifecycleWorkload.view, mapping: try SearchMapping(json: Data(LifecycleWorkload.mapping.utf8)))
        let runner = ProjectionRunner(log: log, projections: [view], batchSize: 16)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await runner.run() }
            for task in 0..<3 {
                group.addTask {
                    var random = SeededGenerator(seed: UInt64(run * 10 + task + 1))
                    var serial = 0
                    while true {
                        serial += 1
                        let id = "r\(run)t\(task)n\(serial)"
                        let key = LifecycleWorkload.keys.randomElement(using: &random)!
                        do {
                            let result = try await log.append(to: key, LifecycleWorkload.event(id: id))
                            record("ack \(id) \(key) \(result.version) \(result.positions.lowerBound)\n")
                        } catch let error as KirokuError where error.code == .keyDeleted {}
                        try await Task.sleep(for: .microseconds(Int.random(in: 0...3000, using: &random)))
                    }
                }
            }
            group.addTask {
                var random = SeededGenerator(seed: UInt64(run * 10 + 9))
                while true {
                    try await Task.sleep(for: .milliseconds(Int.random(in: 5...40, using: &random)))
                    let key = "k-\(Int.random(in: 0..<8, using: &random))"
                    switch Int.random(in: 0..<20, using: &random) {
                    case 0..<9: try await log.delete(key: key)
                    case 9..<18: _ = try await log.erase(key: key, readerWait: .milliseconds(200))
                    case 18: try await log.delete(key: "k-\(Int.random(in: 8..<12, using: &random))", mode: .hard)
                    default: try await log.truncate(key: "c-\(Int.random(in: 0..<6, using: &random))", before: .max)
                    }
                }
            }
            group.addTask {
                while true {
                    try await log.enforceRetention(stepSize: 7)
                    try await Task.sleep(for: .milliseconds(3))
                }
            }
            try await group.next()
        }
    }
}
