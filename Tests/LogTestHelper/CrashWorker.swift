import KirokuFeed
import Foundation
import KirokuTestSupport
import KirokuLog
import KirokuProjections
import KirokuSearch

/// `LogTestHelper crash <store> <acks> <run>`: the crash campaign's mixed workload, run until
/// killed. Lanes append single events and multi-key batches with ids and exact expected
/// versions, recording each append in the acknowledgement file (see `CrashWorkload`); a
/// counting projection and a search view follow the log; a keyed processor commits its
/// checkpoints. First, each lane retries exactly the append it had in flight when the last
/// run died.
enum CrashWorker {
    static func run(store: String, acks path: String, run: Int) async throws {
        let log = try EventLog(path: store)
        let pending = CrashWorkload.pending(inFile: path)
        let file = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard file >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        let view = SearchView(name: CrashWorkload.searchView, mapping: try SearchMapping(json: Data(CrashWorkload.mapping.utf8)))
        let runner = ProjectionRunner(log: log, projections: [EventCounts(), view], batchSize: 64)
        var configuration = KeyedProcessor.Configuration()
        configuration.lanes = 3
        configuration.checkpointInterval = .milliseconds(20)
        let processor = KeyedProcessor(log: log, consumer: CrashWorkload.consumer, configuration: configuration) { _ in }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await runner.run() }
            group.addTask { try await processor.run() }
            // The acknowledgements reach the file at once (a kill keeps them); the flush makes
            // them survive an OS crash too.
            group.addTask {
                while true {
                    try await Task.sleep(for: .milliseconds(10))
                    fsync(file)
                }
            }
            for lane in 0..<CrashWorkload.lanes {
                group.addTask {
                    try await append(lane: lane, run: run, log: log, file: file, retrying: pending[lane])
                }
            }
            try await group.next()
        }
    }

    private static func append(lane: Int, run: Int, log: EventLog, file: Int32, retrying pending: [AppendGroup]?) async throws {
        func record(_ line: String) {
            var bytes = Array(line.utf8)
            _ = bytes.withUnsafeMutableBytes { write(file, $0.baseAddress, $0.count) }
        }
        if let pending {
            // An exact retry returns the first attempt's result if it was committed.
            record(CrashWorkload.describe(lane: lane, pending) + "\n")
            record(CrashWorkload.acks(pending, try await log.append(pending)))
        }
        let keys = (0..<CrashWorkload.keysPerLane).map { CrashWorkload.key(lane: lane, $0) }
        var versions: [String: UInt64] = [:]
        for key in keys {
            versions[key] = try log.currentVersion(of: key) ?? 0
        }
        var random = SeededGenerator(seed: UInt64(run * 100 + lane + 1))
        var serial = 0
        while true {
            let chosen = Bool.random(using: &random) ? [keys.randomElement(using: &random)!]
                : Array(keys.shuffled(using: &random).prefix(Int.random(in: 2...3, using: &random)))
            let groups = chosen.map { key in
                AppendGroup(key: key, events: (0..<Int.random(in: 1...3, using: &random)).map { _ in
                    serial += 1
                    return CrashWorkload.event(id: "r\(run)l\(lane)n\(serial)")
                }, expected: .exact(versions[key]!))
            }
            record(CrashWorkload.describe(lane: lane, groups) + "\n")
            let results = try await log.append(groups)
            record(CrashWorkload.acks(groups, results))
            for result in results { versions[result.key] = result.version }
            // A steady rate rather than as fast as possible: the store (and each check of it)
            // grows by a few hundred events per run, so 200 kills take minutes, not a quarter hour.
            try await Task.sleep(for: .microseconds(Int.random(in: 0...6000, using: &random)))
        }
    }
}
