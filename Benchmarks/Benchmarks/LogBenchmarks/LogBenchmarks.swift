// Kiroku's log beside raw LMDB, in one run. See docs/BENCHMARKS.md for results and how to read them.
import Benchmark
import Foundation
import Log

/// A fresh directory for one benchmark.
func scratchDirectory(_ name: String) -> String {
    let path = NSTemporaryDirectory() + "kiroku-bench-\(getpid())-\(name)"
    try? FileManager.default.removeItem(atPath: path)
    return path
}

/// What one benchmark keeps open across its iterations: measurements run in the steady state
/// of a store that grows, as a service's does, not in the first writes to a new file.
///
/// `@unchecked Sendable`: the runner calls setup, the iterations and teardown one after the other.
final class Fixture<Value>: @unchecked Sendable {
    var value: Value?
    let directory: String

    init(_ name: String) { directory = scratchDirectory(name) }

    func teardown() {
        value = nil
        try? FileManager.default.removeItem(atPath: directory)
    }
}

let payload200 = Data(repeating: 0x61, count: 200)
/// `make bench-quick`: shorter runs, fewer samples.
let quick = !(ProcessInfo.processInfo.environment["KIROKU_BENCH_QUICK"] ?? "").isEmpty
/// The bytes a Kiroku record of a 200-byte payload occupies, for the raw baseline's values.
let rawValue = [UInt8](repeating: 0x61, count: 200 + 48)

func openLog(_ path: String, durability: Durability) throws -> EventLog {
    var options = EventLog.Options()
    options.durability = durability
    options.initialMapSize = 1 << 30
    return try EventLog(path: path, options: options)
}

/// Registers a benchmark whose state is made by `setup` and released by `teardown`.
func measure(_ name: String, setup: @escaping Benchmark.BenchmarkSetupHook, teardown: @escaping Benchmark.BenchmarkTeardownHook,
             _ body: @escaping Benchmark.BenchmarkAsyncThrowingClosure) {
    Benchmark(name, closure: body, setup: setup, teardown: teardown)
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .peakMemoryResident, .writeBytesLogical, .writeSyscalls],
        warmupIterations: 2,
        scalingFactor: .kilo,
        maxDuration: quick ? .seconds(1) : .seconds(4),
        maxIterations: quick ? 30 : 200
    )

    // Names sort so that the benchmarks compared with each other run one after the other
    // (the runner goes in name order), which keeps the machine's drift out of the ratios.

    // MARK: Batched appends: 1000 events of 200 bytes per transaction.
    // One iteration is one batch of 1000 events; the wall clock is per event.

    for sync in [true, false] {
        let mode = sync ? "durable" : "nosync"
        let floor = Fixture<RawLMDB>("raw-floor-\(mode)")
        measure("Batch 1000 \(mode): raw LMDB floor (MDB_APPEND only)",
                  setup: { floor.value = RawLMDB(path: floor.directory, sync: sync) },
                teardown: { floor.teardown() }) { benchmark in
            floor.value!.appendBatch(key: "key-1", value: rawValue, count: benchmark.scaledIterations.count, index: false)
        }
        let same = Fixture<RawLMDB>("raw-same-\(mode)")
        measure("Batch 1000 \(mode): raw LMDB same work (record + key index puts)",
                  setup: { same.value = RawLMDB(path: same.directory, sync: sync) },
                  teardown: { same.teardown() }) { benchmark in
            same.value!.appendBatch(key: "key-1", value: rawValue, count: benchmark.scaledIterations.count, index: true)
        }
        let kiroku = Fixture<EventLog>("kiroku-batch-\(mode)")
        let events = (0..<1000).map { _ in EventData(type: "Benchmarked", payload: payload200) }
        measure("Batch 1000 \(mode): Kiroku append",
                  setup: { kiroku.value = try openLog(kiroku.directory, durability: sync ? .full : .noSync(flushInterval: .seconds(3600))) },
                  teardown: { kiroku.value?.close(); kiroku.teardown() }) { benchmark in
            try await kiroku.value!.append(to: "key-1", Array(events.prefix(benchmark.scaledIterations.count)))
        }
    }

    // MARK: Durable single-event appends from N concurrent tasks (group commit).
    // One iteration is 1000 single-event appends, shared among the tasks; the wall clock is per event.

    for tasks in [1, 8, 64, 256] {
        let fixture = Fixture<EventLog>("kiroku-concurrent-\(tasks)")
        measure("Durable single-event appends: \(String(format: "%03d", tasks)) tasks",
                  setup: { fixture.value = try openLog(fixture.directory, durability: .full) },
                  teardown: { fixture.value?.close(); fixture.teardown() }) { benchmark in
            let log = fixture.value!
            let total = benchmark.scaledIterations.count
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
        }
    }

    // MARK: The same, in SQLite through GRDB (same semantics; see SQLiteBaseline.swift).
    // GRDB serializes writes; each append is its own transaction.

    for synchronous in ["FULL", "NORMAL"] {
        for tasks in [1, 8, 64, 256] {
            let fixture = Fixture<SQLiteLog>("sqlite-concurrent-\(synchronous)-\(tasks)")
            measure("Durable single-event appends: \(String(format: "%03d", tasks)) tasks, SQLite \(synchronous)",
                      setup: { fixture.value = try SQLiteLog(path: fixture.directory, synchronous: synchronous) },
                      teardown: { fixture.value = nil; fixture.teardown(); for suffix in [".sqlite", ".sqlite-wal", ".sqlite-shm"] { try? FileManager.default.removeItem(atPath: fixture.directory + suffix) } }) { benchmark in
                let log = fixture.value!
                let total = benchmark.scaledIterations.count
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for task in 0..<tasks {
                        let share = total / tasks + (task < total % tasks ? 1 : 0)
                        group.addTask {
                            for i in 0..<share {
                                try await log.append(key: "key-\((task * 7919 + i) % 1000)", type: "Benchmarked", payload: payload200)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
        }
    }

    // MARK: Per-key reads: 100 events of one key (of 1000 keys, 100 events each).
    // One iteration is one event read; a read returns 100.

    let readsKiroku = Fixture<EventLog>("kiroku-reads")
    measure("Per-key reads: Kiroku", setup: {
        let log = try openLog(readsKiroku.directory, durability: .noSync(flushInterval: .seconds(3600)))
        for batch in 0..<100 {
            _ = try await log.append((0..<1000).map { AppendGroup(key: "key-\($0)", events: [EventData(type: "Benchmarked", payload: payload200)]) })
            _ = batch
        }
        readsKiroku.value = log
    }, teardown: { readsKiroku.value?.close(); readsKiroku.teardown() }) { benchmark in
        let log = readsKiroku.value!
        var read = 0
        var key = 0
        while read < benchmark.scaledIterations.count {
            read += try log.read(key: "key-\(key % 1000)", limit: 100).count
            key += 7
        }
    }
    let readsSQLite = Fixture<SQLiteLog>("sqlite-reads")
    measure("Per-key reads: SQLite", setup: {
        let log = try SQLiteLog(path: readsSQLite.directory, synchronous: "NORMAL")
        for key in 0..<1000 { try log.appendBatch(key: "key-\(key)", payload: payload200, count: 100) }
        readsSQLite.value = log
    }, teardown: {
        readsSQLite.value = nil
        readsSQLite.teardown()
        for suffix in [".sqlite", ".sqlite-wal", ".sqlite-shm"] { try? FileManager.default.removeItem(atPath: readsSQLite.directory + suffix) }
    }) { benchmark in
        let log = readsSQLite.value!
        var read = 0
        var key = 0
        while read < benchmark.scaledIterations.count {
            read += try log.read(key: "key-\(key % 1000)", limit: 100).count
            key += 7
        }
    }
}
