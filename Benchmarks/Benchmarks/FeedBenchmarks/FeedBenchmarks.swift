// The change feed: delivery latency from commit to handler start, and processor throughput.
// See docs/BENCHMARKS.md for results and how to read them.
import Benchmark
import KirokuFeed
import Foundation
import KirokuLog
import Synchronization

func scratchDirectory(_ name: String) -> String {
    NSTemporaryDirectory() + "kiroku-feed-bench-\(getpid())-\(name)"
}

/// Opens a new store in a fresh scratch directory.
func openLog(_ name: String) throws -> EventLog {
    var options = EventLog.Options()
    // The feed is measured, not the disk: with `.full`, add one fsync (see the log benchmarks).
    options.durability = .noSync(flushInterval: .seconds(3600))
    options.initialMapSize = 1 << 30
    try? FileManager.default.removeItem(atPath: scratchDirectory(name))
    return try EventLog(path: scratchDirectory(name), options: options)
}

/// Delivery latencies seen by handlers, in nanoseconds.
final class Latencies: Sendable {
    private let values = Mutex<[Int]>([])
    func add(_ value: Int) { values.withLock { $0.append(value) } }
    var count: Int { values.withLock { $0.count } }
    var all: [Int] { values.withLock { $0 } }
}

let deliveryLatency = BenchmarkMetric.custom("Delivery latency (ns)", polarity: .prefersSmaller, useScalingFactor: false)

/// Starts a processor from the log's end whose handler records each record's latency from its
/// commit timestamp (taken when the writer starts the commit) to the handler's start.
func startTimedProcessor(_ log: EventLog, lanes: Int) async throws -> (KeyedProcessor, Task<Void, any Error>, Latencies) {
    let latencies = Latencies()
    var configuration = KeyedProcessor.Configuration()
    configuration.lanes = lanes
    configuration.start = .end
    let processor = KeyedProcessor(log: log, consumer: "latency", configuration: configuration) { record in
        let now = Date().timeIntervalSince1970
        latencies.add(Int((now - record.timestamp.timeIntervalSince1970) * 1e9))
    }
    let running = Task { try await processor.run() }
    try await Task.sleep(for: .milliseconds(50))
    return (processor, running, latencies)
}

/// Appends at `rate` records/s for `duration` to 1000 keys while a processor with `lanes`
/// lanes handles them; records each record's latency from its commit timestamp (taken when
/// the writer starts the commit) to its handler's start.
func measureDelivery(_ benchmark: Benchmark, rate: Int, lanes: Int, duration: Duration) async throws {
    let directory = "delivery-\(rate)-\(lanes)"
    let log = try openLog(directory)
    defer {
        log.close()
        try? FileManager.default.removeItem(atPath: scratchDirectory(directory))
    }
    let (processor, running, latencies) = try await startTimedProcessor(log, lanes: lanes)

    // Above 10k records/s one append carries several records, as a busy service's would.
    let perAppend = max(1, rate / 10_000)
    let interval = Duration.seconds(Double(perAppend) / Double(rate))
    let total = Int(Double(rate) * (Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18))
    let clock = ContinuousClock()
    let start = clock.now
    var appended = 0
    var tick = 0
    while appended < total {
        try await clock.sleep(until: start + interval * tick, tolerance: .microseconds(10))
        tick += 1
        let events = (0..<perAppend).map { _ in EventData(type: "Measured", payload: Data(count: 200)) }
        try await log.append(to: "key-\(appended % 1000)", events)
        appended += perAppend
    }
    while latencies.count < appended { try await Task.sleep(for: .milliseconds(1)) }
    processor.stop()
    try await running.value
    for latency in latencies.all { benchmark.measurement(deliveryLatency, latency) }
}

/// Like `measureDelivery`, but the records are appended by another process
/// (`kiroku-bench-appender`, built next to this executable), so the wake-up is LMDB's
/// transaction id watched while the processor waits.
func measureCrossProcessDelivery(_ benchmark: Benchmark, rate: Int, lanes: Int, count: Int) async throws {
    let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        ?? Bundle.main.executablePath ?? CommandLine.arguments[0]
    let appender = URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("kiroku-bench-appender")
    guard FileManager.default.isExecutableFile(atPath: appender.path) else {
        benchmark.error("kiroku-bench-appender is not built next to \(executable); run `make bench`, which builds it first")
        return
    }
    let directory = "cross-\(rate)-\(lanes)"
    let log = try openLog(directory)
    defer {
        log.close()
        try? FileManager.default.removeItem(atPath: scratchDirectory(directory))
    }
    let (processor, running, latencies) = try await startTimedProcessor(log, lanes: lanes)
    let process = Process()
    process.executableURL = appender
    process.arguments = [scratchDirectory(directory), String(rate), String(count)]
    try process.run()
    while latencies.count < count && process.isRunning { try await Task.sleep(for: .milliseconds(1)) }
    let deadline = ContinuousClock.now + .seconds(5)
    while latencies.count < count && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
    process.waitUntilExit()
    processor.stop()
    try await running.value
    for latency in latencies.all { benchmark.measurement(deliveryLatency, latency) }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [deliveryLatency],
        warmupIterations: 0,
        maxDuration: .seconds(30),
        maxIterations: 1
    )

    // The motivating team's grid (20, 63, 200 writes/s) and far beyond it.
    // `make bench-quick`: fewer lane counts, shorter runs.
    let quick = !(ProcessInfo.processInfo.environment["KIROKU_BENCH_QUICK"] ?? "").isEmpty
    for rate in [20, 63, 200, 10_000, 100_000] {
        for lanes in quick ? [1, 10] : [1, 3, 10, 64] {
            let duration: Duration = rate < 1000 && !quick ? .seconds(3) : .seconds(1)
            Benchmark("Delivery \(String(format: "%06d", rate))/s, \(String(format: "%02d", lanes)) lanes") { benchmark in
                try await measureDelivery(benchmark, rate: rate, lanes: lanes, duration: duration)
            }
        }
    }

    for (rate, count) in [(200, 600), (10_000, 10_000)] {
        for lanes in [1, 10] {
            Benchmark("Cross-process delivery \(String(format: "%06d", rate))/s, \(String(format: "%02d", lanes)) lanes") { benchmark in
                try await measureCrossProcessDelivery(benchmark, rate: rate, lanes: lanes, count: count)
            }
        }
    }

    // A no-op handler over 200,000 committed records: the processor's own ceiling.
    final class Backlog: @unchecked Sendable {
        // Set up once before the iterations; read-only after (the runner is sequential).
        var log: EventLog?
        var run = 0
    }
    let backlog = Backlog()
    let records = 200_000
    Benchmark("Processor throughput, no-op handler, 8 lanes",
              configuration: .init(metrics: [.wallClock, .throughput, .peakMemoryResident], warmupIterations: 0,
                                   scalingFactor: .one, maxDuration: .seconds(20), maxIterations: 5),
              closure: { benchmark in
                  let log = backlog.log!
                  backlog.run += 1
                  let seen = Mutex(0)
                  let processor = KeyedProcessor(log: log, consumer: "throughput-\(backlog.run)") { _ in
                      seen.withLock { $0 += 1 }
                  }
                  benchmark.startMeasurement()
                  let running = Task { try await processor.run() }
                  while seen.withLock({ $0 }) < records { try await Task.sleep(for: .microseconds(200)) }
                  benchmark.stopMeasurement()
                  processor.stop()
                  try await running.value
              },
              setup: {
                  let log = try openLog("throughput")
                  for batch in 0..<(records / 1000) {
                      try await log.append(to: "key-\(batch % 100)", (0..<1000).map { _ in EventData(type: "T", payload: Data(count: 100)) })
                  }
                  backlog.log = log
              },
              teardown: {
                  backlog.log?.close()
                  backlog.log = nil
                  try? FileManager.default.removeItem(atPath: scratchDirectory("throughput"))
              })
}
