// Kiroku's log beside raw LMDB, in one run. See docs/BENCHMARKS.md for results and how to read them.
import Benchmark
import Foundation
import Log

/// A fresh directory for one benchmark, removed at the end of the run.
func scratchDirectory(_ name: String) -> String {
    let path = NSTemporaryDirectory() + "kiroku-bench-\(getpid())-\(name)"
    try? FileManager.default.removeItem(atPath: path)
    return path
}

let payload200 = Data(repeating: 0x61, count: 200)
/// The bytes a Kiroku record of a 200-byte payload occupies, for the raw baseline's values.
let rawValue = [UInt8](repeating: 0x61, count: 200 + 48)

func openLog(_ name: String, durability: Durability) throws -> EventLog {
    var options = EventLog.Options()
    options.durability = durability
    options.initialMapSize = 4 << 30
    return try EventLog(path: scratchDirectory(name), options: options)
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .peakMemoryResident],
        warmupIterations: 1,
        scalingFactor: .kilo,
        maxDuration: .seconds(4),
        maxIterations: 200
    )

    // MARK: Batched appends: 1000 events of 200 bytes per transaction, into a fresh store.
    // One iteration is one batch of 1000 events; throughput is events/s.

    for sync in [true, false] {
        let mode = sync ? "durable" : "nosync"
        Benchmark("Raw LMDB floor: MDB_APPEND only, batch 1000 (\(mode))") { benchmark in
            let raw = RawLMDB(path: scratchDirectory("raw-floor-\(mode)"), sync: sync)
            benchmark.startMeasurement()
            raw.appendBatch(key: "key-1", value: rawValue, count: benchmark.scaledIterations.count, index: false)
            benchmark.stopMeasurement()
        }
        Benchmark("Raw LMDB same work: record + key index, batch 1000 (\(mode))") { benchmark in
            let raw = RawLMDB(path: scratchDirectory("raw-same-\(mode)"), sync: sync)
            benchmark.startMeasurement()
            raw.appendBatch(key: "key-1", value: rawValue, count: benchmark.scaledIterations.count, index: true)
            benchmark.stopMeasurement()
        }
        Benchmark("Kiroku batched append, batch 1000 (\(mode))") { benchmark in
            let log = try openLog("kiroku-batch-\(mode)", durability: sync ? .full : .noSync(flushInterval: .seconds(3600)))
            defer { log.close() }
            let events = (0..<benchmark.scaledIterations.count).map { _ in EventData(type: "Benchmarked", payload: payload200) }
            benchmark.startMeasurement()
            try await log.append(to: "key-1", events)
            benchmark.stopMeasurement()
        }
    }

    // MARK: Durable single-event appends from N concurrent tasks (group commit).
    // One iteration is 1000 single-event appends, shared among the tasks; throughput is events/s.

    for tasks in [1, 8, 64, 256] {
        Benchmark("Kiroku durable single-event appends, \(tasks) concurrent tasks") { benchmark in
            let log = try openLog("kiroku-concurrent-\(tasks)", durability: .full)
            defer { log.close() }
            let total = benchmark.scaledIterations.count
            benchmark.startMeasurement()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<tasks {
                    let share = total / tasks + (task < total % tasks ? 1 : 0)
                    group.addTask {
                        for i in 0..<share {
                            try await log.append(to: "key-\((task * 7919 + i) % 1000)", EventData(type: "Benchmarked", payload: payload200))
                        }
                    }
                }
                try await group.waitForAll()
            }
            benchmark.stopMeasurement()
        }
    }
}
