// Projection rebuilds over a million committed records. See docs/BENCHMARKS.md.
import Benchmark
import Foundation
import Log
import Projections

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
