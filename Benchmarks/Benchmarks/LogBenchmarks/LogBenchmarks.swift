// Kiroku's log beside raw LMDB, in one run. See docs/BENCHMARKS.md for results and how to read them.
import Benchmark
import Foundation
import KirokuLog

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

    /// Removes the SQLite database and its WAL files (`SQLiteLog` adds `.sqlite` to the path).
    func teardownSQLite() {
        teardown()
        for suffix in [".sqlite", ".sqlite-wal", ".sqlite-shm"] { try? FileManager.default.removeItem(atPath: directory + suffix) }
    }
}

let payload200 = Data(repeating: 0x61, count: 200)
let payload2K = Data(repeating: 0x61, count: 2048)
/// `make bench-quick`: shorter runs, fewer samples.
let quick = !(ProcessInfo.processInfo.environment["KIROKU_BENCH_QUICK"] ?? "").isEmpty

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

    // MARK: Batched appends: 100 or 1000 events of 200 bytes or 2 KiB per transaction.
    // One iteration is 1000 events (one batch of 1000, or ten of 100); the wall clock is per event.

    for shape in BatchShape.all {
        for sync in shape.syncModes {
            let mode = sync ? "durable" : "nosync"
            let value = [UInt8](repeating: 0x61, count: shape.payload + 48)
            let floor = Fixture<RawLMDB>("raw-floor-\(shape.label)-\(mode)")
            measure("\(shape.label) \(mode): raw LMDB floor (MDB_APPEND only)",
                    setup: { floor.value = RawLMDB(path: floor.directory, sync: sync) },
                    teardown: { floor.teardown() }) { benchmark in
                shape.batches(of: benchmark.scaledIterations.count) { floor.value!.appendBatch(key: "key-1", value: value, count: $0, index: false) }
            }
            let same = Fixture<RawLMDB>("raw-same-\(shape.label)-\(mode)")
            measure("\(shape.label) \(mode): raw LMDB same work (record + key index puts)",
                    setup: { same.value = RawLMDB(path: same.directory, sync: sync) },
                    teardown: { same.teardown() }) { benchmark in
                shape.batches(of: benchmark.scaledIterations.count) { same.value!.appendBatch(key: "key-1", value: value, count: $0, index: true) }
            }
            let kiroku = Fixture<EventLog>("kiroku-batch-\(shape.label)-\(mode)")
            let events = (0..<shape.size).map { _ in EventData(type: "Benchmarked", payload: Data(repeating: 0x61, count: shape.payload)) }
            measure("\(shape.label) \(mode): Kiroku append",
                    setup: { kiroku.value = try openLog(kiroku.directory, durability: sync ? .full : .noSync(flushInterval: .seconds(3600))) },
                    teardown: { kiroku.value?.close(); kiroku.teardown() }) { benchmark in
                for size in shape.sizes(of: benchmark.scaledIterations.count) {
                    try await kiroku.value!.append(to: "key-1", Array(events.prefix(size)))
                }
            }
            guard sync else { continue }
            let sqlite = Fixture<SQLiteLog>("sqlite-batch-\(shape.label)")
            let payload = Data(repeating: 0x61, count: shape.payload)
            measure("\(shape.label) \(mode): SQLite FULL",
                    setup: { sqlite.value = try SQLiteLog(path: sqlite.directory, synchronous: "FULL") },
                    teardown: { sqlite.value = nil; sqlite.teardownSQLite() }) { benchmark in
                for size in shape.sizes(of: benchmark.scaledIterations.count) {
                    try sqlite.value!.appendBatch(keys: Array(repeating: "key-1", count: size), payload: payload)
                }
            }
        }
    }

    // MARK: Durable single-event appends from N concurrent tasks (group commit).
    // One iteration is 1000 single-event appends, shared among the tasks; the wall clock is per event.

    for tasks in [1, 8, 64, 256] {
        concurrentAppends("Durable single-event appends: \(String(format: "%03d", tasks)) tasks", tasks: tasks, payload: payload200)
    }
    concurrentAppends("Durable single-event appends of 2 KiB: 064 tasks", tasks: 64, payload: payload2K)
    // The limit for one appender: one durable LMDB commit per event, plain C calls.
    let rawSingle = Fixture<RawLMDB>("raw-single")
    let rawSingleValue = [UInt8](repeating: 0x61, count: 200 + 48)
    measure("Durable single-event appends: raw LMDB, one commit per event",
            setup: { rawSingle.value = RawLMDB(path: rawSingle.directory, sync: true) },
            teardown: { rawSingle.teardown() }) { benchmark in
        for i in 0..<benchmark.scaledIterations.count {
            rawSingle.value!.appendBatch(key: "key-\(i % 1000)", value: rawSingleValue, count: 1, index: true)
        }
    }

    // MARK: The same, in SQLite through GRDB (same semantics; see SQLiteBaseline.swift).
    // GRDB serializes writes; each append is its own transaction.

    for synchronous in ["FULL", "NORMAL"] {
        for tasks in [1, 8, 64, 256] {
            concurrentAppends("Durable single-event appends: \(String(format: "%03d", tasks)) tasks, SQLite \(synchronous)",
                              tasks: tasks, payload: payload200, sqlite: synchronous)
        }
    }
    concurrentAppends("Durable single-event appends of 2 KiB: 064 tasks, SQLite FULL", tasks: 64, payload: payload2K, sqlite: "FULL")

    // MARK: Per-key reads: 100 events of one key (of 1000 keys, 100 events each).
    // Both stores hold the same shape: 100 rounds of one event for each of the 1000 keys, so
    // a key's events are spread over the log. One iteration is one event read; a read returns 100.

    let readsKiroku = Fixture<EventLog>("kiroku-reads")
    measure("Per-key reads: Kiroku", setup: {
        readsKiroku.value = try await filledLog(readsKiroku.directory)
    }, teardown: { readsKiroku.value?.close(); readsKiroku.teardown() }) { benchmark in
        let log = readsKiroku.value!
        try readByKey(benchmark.scaledIterations.count) { try log.read(key: $0, limit: 100).count }
    }
    let readsSQLite = Fixture<SQLiteLog>("sqlite-reads")
    measure("Per-key reads: SQLite", setup: {
        readsSQLite.value = try filledSQLite(readsSQLite.directory)
    }, teardown: { readsSQLite.value = nil; readsSQLite.teardownSQLite() }) { benchmark in
        let log = readsSQLite.value!
        try readByKey(benchmark.scaledIterations.count) { try log.read(key: $0, limit: 100).count }
    }

    // MARK: Global scans: the same 100,000 events in log order, pages of 1000.
    // One iteration is one event read; a page returns 1000; at the end the scan starts over.

    let scanRaw = Fixture<RawLMDB>("raw-scan")
    measure("Scan in log order: raw LMDB cursor", setup: {
        // The very store Kiroku wrote, opened with plain C calls once Kiroku has closed it.
        try await filledLog(scanRaw.directory).close()
        scanRaw.value = RawLMDB(path: scanRaw.directory, sync: false)
    }, teardown: { scanRaw.teardown() }) { benchmark in
        blackHole(scanRaw.value!.scan(benchmark.scaledIterations.count))
    }
    let scanKiroku = Fixture<EventLog>("kiroku-scan")
    let scanFrom = ScanPosition()
    measure("Scan in log order: Kiroku", setup: {
        scanKiroku.value = try await filledLog(scanKiroku.directory)
        scanFrom.next = 1
    }, teardown: { scanKiroku.value?.close(); scanKiroku.teardown() }) { benchmark in
        let log = scanKiroku.value!
        try scanFrom.pages(benchmark.scaledIterations.count) { from, limit in
            let records = try log.readAll(from: from, limit: limit)
            return (records.count, records.last?.position)
        }
    }
    let scanSQLite = Fixture<SQLiteLog>("sqlite-scan")
    measure("Scan in log order: SQLite", setup: {
        scanSQLite.value = try filledSQLite(scanSQLite.directory)
        scanFrom.next = 1
    }, teardown: { scanSQLite.value = nil; scanSQLite.teardownSQLite() }) { benchmark in
        let log = scanSQLite.value!
        try scanFrom.pages(benchmark.scaledIterations.count) { from, limit in
            let rows = try log.readAll(from: Int64(from), limit: limit)
            return (rows.count, rows.last.map { UInt64($0["position"] as Int64) })
        }
    }
}

/// Where a paged scan goes on from, across iterations (one benchmark runs at a time).
final class ScanPosition: @unchecked Sendable {
    var next: UInt64 = 1

    /// Reads `total` events in log order from `next`, starting over at the end; `page` reads up
    /// to `limit` events from a position and returns how many it read and the last's position.
    func pages(_ total: Int, _ page: (_ from: UInt64, _ limit: Int) throws -> (count: Int, last: UInt64?)) rethrows {
        var read = 0
        while read < total {
            let (count, last) = try page(next, total - read)
            read += count
            next = last.map { $0 + 1 } ?? 1
        }
    }
}

/// Reads `total` events key by key (keys 7 apart, 100 events each); `read` returns how many
/// events a key gave.
func readByKey(_ total: Int, _ read: (String) throws -> Int) rethrows {
    var done = 0
    var key = 0
    while done < total {
        done += try read("key-\(key % 1000)")
        key += 7
    }
}

/// The shape of a batched-append benchmark: events per transaction and payload bytes.
struct BatchShape: Sendable {
    let size: Int
    let payload: Int
    let label: String
    /// Only the main shape runs without sync too (the CPU cost alone).
    let syncModes: [Bool]

    static let all = [
        BatchShape(size: 1000, payload: 200, label: "Batch 1000", syncModes: [true, false]),
        BatchShape(size: 100, payload: 200, label: "Batch 0100", syncModes: [true]),
        BatchShape(size: 1000, payload: 2048, label: "Batch 1000 of 2 KiB", syncModes: [true, false]),
    ]

    /// The batch sizes that make up `total` events.
    func sizes(of total: Int) -> [Int] {
        stride(from: 0, to: total, by: size).map { min(size, total - $0) }
    }

    func batches(of total: Int, _ body: (Int) -> Void) {
        for size in sizes(of: total) { body(size) }
    }
}

/// Appends `payload` from `tasks` concurrent tasks, one durable event at a time, to Kiroku or
/// (when `sqlite` names a `synchronous` mode) to SQLite.
func concurrentAppends(_ name: String, tasks: Int, payload: Data, sqlite synchronous: String? = nil) {
    if let synchronous {
        let fixture = Fixture<SQLiteLog>(name.filter { $0.isLetter || $0.isNumber })
        measure(name, setup: { fixture.value = try SQLiteLog(path: fixture.directory, synchronous: synchronous) },
                teardown: { fixture.value = nil; fixture.teardownSQLite() }) { benchmark in
            let log = fixture.value!
            try await shareAppends(benchmark.scaledIterations.count, among: tasks) { task, i in
                try await log.append(key: "key-\((task * 7919 + i) % 1000)", type: "Benchmarked", payload: payload)
            }
        }
    } else {
        let fixture = Fixture<EventLog>(name.filter { $0.isLetter || $0.isNumber })
        measure(name, setup: { fixture.value = try openLog(fixture.directory, durability: .full) },
                teardown: { fixture.value?.close(); fixture.teardown() }) { benchmark in
            let log = fixture.value!
            try await shareAppends(benchmark.scaledIterations.count, among: tasks) { task, i in
                try await log.append(to: "key-\((task * 7919 + i) % 1000)", EventData(type: "Benchmarked", payload: payload))
            }
        }
    }
}

/// Runs `total` appends shared among `tasks` concurrent tasks.
func shareAppends(_ total: Int, among tasks: Int, _ append: @escaping @Sendable (Int, Int) async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for task in 0..<tasks {
            let share = total / tasks + (task < total % tasks ? 1 : 0)
            group.addTask {
                for i in 0..<share { try await append(task, i) }
            }
        }
        try await group.waitForAll()
    }
}

/// A Kiroku store of 1000 keys with 100 events of 200 bytes each, written in 100 rounds of
/// one event per key (each round one multi-key append).
func filledLog(_ path: String) async throws -> EventLog {
    let log = try openLog(path, durability: .noSync(flushInterval: .seconds(3600)))
    for _ in 0..<100 {
        _ = try await log.append((0..<1000).map { AppendGroup(key: "key-\($0)", events: [EventData(type: "Benchmarked", payload: payload200)]) })
    }
    return log
}

/// The same store in SQLite, written in the same order.
func filledSQLite(_ path: String) throws -> SQLiteLog {
    let log = try SQLiteLog(path: path, synchronous: "NORMAL")
    let keys = (0..<1000).map { "key-\($0)" }
    for _ in 0..<100 { try log.appendBatch(keys: keys, payload: payload200) }
    return log
}
