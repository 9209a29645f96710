// Projection rebuilds over a million committed records. See docs/BENCHMARKS.md.
import Benchmark
import Foundation
import KirokuCLI
import KirokuLog
import KirokuProjections

let records = 1_000_000

/// The backlog every rebuild reads; built once in setup.
///
/// `@unchecked Sendable`: written in setup and teardown, read by the iterations, which the
/// runner runs one after the other.
final class Backlog: @unchecked Sendable {
    var log: EventLog?
    var path = NSTemporaryDirectory() + "kiroku-projection-bench-\(getpid())"
    var runs = 0
}
let backlog = Backlog()

func rebuild(_ benchmark: Benchmark, _ make: (String) -> any Projection) async throws {
    let log = backlog.log!
    backlog.runs += 1
    let projection = make("rebuild-\(backlog.runs)")
    let runner = ProjectionRunner(log: log, projections: [projection])
    benchmark.startMeasurement()
    let running = Task { try await runner.run() }
    try await runner.waitUntil(projection.name, hasApplied: UInt64(records), timeout: .seconds(600))
    benchmark.stopMeasurement()
    running.cancel()
    try await running.value
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .peakMemoryResident],
        warmupIterations: 0,
        scalingFactor: .one,
        maxDuration: .seconds(30),
        maxIterations: 3
    )
    let setup: Benchmark.BenchmarkSetupHook = {
        guard backlog.log == nil else { return }
        try? FileManager.default.removeItem(atPath: backlog.path)
        var options = EventLog.Options()
        options.durability = .noSync(flushInterval: .seconds(3600))
        options.initialMapSize = 1 << 30
        let log = try EventLog(path: backlog.path, options: options)
        for batch in 0..<(records / 1000) {
            try await log.append(to: "key-\(batch % 1000)", (0..<1000).map { i in
                EventData(type: i.isMultiple(of: 3) ? "Edited" : "Logged", payload: Data(count: 200))
            })
        }
        backlog.log = log
    }
    Benchmark("Projection lag at 10k appends/s", configuration: .init(metrics: [projectionLag], maxIterations: 1)) { benchmark in
        let quick = !(ProcessInfo.processInfo.environment["KIROKU_BENCH_QUICK"] ?? "").isEmpty
        try await measureLag(benchmark, rate: 10_000, duration: .seconds(quick ? 1 : 3))
    }
    Benchmark("Rebuild 1M records: event counts", closure: { benchmark in
        try await rebuild(benchmark) { EventCounts(name: $0) }
    }, setup: setup)
    Benchmark("Rebuild 1M records: latest state", closure: { benchmark in
        try await rebuild(benchmark) { LatestState(name: $0) }
    }, setup: setup, teardown: {
        backlog.log?.close()
        backlog.log = nil
        try? FileManager.default.removeItem(atPath: backlog.path)
    })
}

let projectionLag = BenchmarkMetric.custom("Projection lag (ns)", polarity: .prefersSmaller, useScalingFactor: false)

/// Read-your-writes under load: the log takes `rate` appends/s; every 10 ms the latest append
/// is timed from its return until the counting projection has applied it.
func measureLag(_ benchmark: Benchmark, rate: Int, duration: Duration) async throws {
    let path = NSTemporaryDirectory() + "kiroku-projection-lag-\(getpid())"
    try? FileManager.default.removeItem(atPath: path)
    defer { try? FileManager.default.removeItem(atPath: path) }
    // A durable log, as in production; 32 appenders share its commits to reach the rate.
    let log = try EventLog(path: path)
    defer { log.close() }
    let runner = ProjectionRunner(log: log, projections: [EventCounts()])
    let running = Task { try await runner.run() }
    try await runner.waitUntil("event-counts", hasApplied: 0)
    let latest = LatestAppend()
    let appenders = 32
    let clock = ContinuousClock()
    let start = clock.now
    let appender = Task {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<appenders {
                group.addTask {
                    let interval = Duration.seconds(1) / (rate / appenders)
                    var tick = 0
                    while clock.now - start < duration {
                        try await clock.sleep(until: start + interval * tick, tolerance: .microseconds(50))
                        tick += 1
                        let result = try await log.append(to: "key-\(lane)-\(tick % 30)", EventData(type: "T", payload: Data(count: 200)))
                        latest.set(result.position)
                    }
                }
            }
            try await group.waitForAll()
        }
    }
    // Only while appends go on: timing after the appenders stopped would add idle time.
    var samples: [Int] = []
    try await latest.sample(every: .milliseconds(10), while: { clock.now - start < duration }, until: { position in
        try await runner.waitUntil("event-counts", hasApplied: position, timeout: .seconds(10))
    }, record: { lag in
        samples.append(Int(lag.components.seconds) * 1_000_000_000 + Int(lag.components.attoseconds / 1_000_000_000))
    })
    try await appender.value
    running.cancel()
    try await running.value
    for sample in samples { benchmark.measurement(projectionLag, sample) }
}
