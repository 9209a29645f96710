import ArgumentParser
import KirokuFeed
import Foundation
import KirokuCorpus
import KirokuLog
import KirokuProjections
import KirokuNATS
import KirokuSearch

/// `kiroku bench`: the operator's benchmark runner, on their own disk.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure appends, feed delivery or search on this machine's disk (like kafka-producer-perf-test or pgbench).",
        discussion: """
        append: durable single-event appends from --concurrency tasks (optionally paced to --rate), for --duration seconds.
        feed:   appends paced to --rate; a keyed processor with --lanes lanes; latency from commit to handler.
        search: --documents activity records indexed by a search view, then ten kinds of queries (the ones docs/BENCHMARKS.md compares with Tantivy) for --duration seconds.
        relay:  --records records relayed to an R3 JetStream stream beside a raw pipelined publisher, the relay's lag at --rate (default 1000) for --duration seconds, the mirror's throughput, and recovery after the stream leader is SIGKILLed. Starts its own three-node nats-server cluster on loopback unless --nats names one (then no leader is killed).
        lifecycle: --records records of --payload bytes (20 versions a key): retention by age and compaction in steps of --step beside LMDB deleting as many records alone, a backup beside mdb_env_copy2 alone, and a durable appender's latency alone and while the compaction runs.
        decide: a key of --records events, decided on (folding it all, then from a snapshot), and --concurrency tasks deciding on 1,000 keys beside plain appends for --duration seconds each.
        Latencies are percentiles of an HdrHistogram. A temporary store is used (and removed) unless one is given.
        """)

    enum Workload: String, ExpressibleByArgument, CaseIterable { case append, feed, search, relay, lifecycle, decide }

    @Argument(help: "append, feed, search, relay, lifecycle or decide.") var workload: Workload
    @Argument(help: "The store directory (default: a temporary one, removed afterwards).") var store: String?
    @Option(help: "Concurrent appending tasks.") var concurrency = 64
    @Option(help: "Target records per second (append: optional; feed: default 10000).") var rate: Int?
    @Option(help: "Seconds to run.") var duration = 10.0
    @Option(help: "Payload bytes per event.") var payload = 200
    @Option(help: "Lanes of the keyed processor (feed).") var lanes = 4
    @Option(help: "Documents to index (search).") var documents = 100_000
    @Option(help: "Write the view's documents and the queries with Kiroku's counts here, for scripts/bench-tantivy (search).") var export: String?
    @Option(help: "Records to relay (relay).") var records = 50_000
    @Option(help: "Publishes in flight (relay).") var window = 512
    @Option(help: "Records removed per step (lifecycle).") var step = 10_000
    @Option(help: "NATS servers (relay); default: a three-node cluster started for the run.") var nats: String?
    @OptionGroup var output: OutputOptions

    func run() async throws {
        guard duration > 0, duration <= 3600 else { throw CommandExit.input("--duration must be more than 0 and at most 3600 seconds.") }
        guard (1...4096).contains(concurrency) else { throw CommandExit.input("--concurrency must be 1 to 4096.") }
        guard (0...4 << 20).contains(payload) else { throw CommandExit.input("--payload must be 0 to 4194304 bytes.") }
        guard (1...1024).contains(lanes) else { throw CommandExit.input("--lanes must be 1 to 1024.") }
        if let rate, rate < 1 { throw CommandExit.input("--rate must be at least 1.") }
        let temporary = store == nil
        let path = store ?? NSTemporaryDirectory() + "kiroku-bench-\(UUID().uuidString.prefix(8).lowercased())"
        defer { if temporary { try? FileManager.default.removeItem(atPath: path) } }
        let log = try StoreOpener.open(path, create: true)
        defer { log.close() }
        switch workload {
        case .append: try await appends(log)
        case .feed: try await feed(log)
        case .search: try await search(log)
        case .relay: try await relay(log)
        case .decide:
            guard records >= 1 else { throw CommandExit.input("decide needs --records of at least 1.") }
            let results = try await DecideBench(log: log, history: records, concurrency: concurrency, keys: 1000, duration: duration).run()
            report(results.fields, results.lines)
        case .lifecycle:
            guard records >= 1000, step >= 1 else { throw CommandExit.input("lifecycle needs --records of at least 1000 and a --step of at least 1.") }
            let results = try await LifecycleBench(directory: path, records: records, payload: payload, step: step).run()
            report(results.fields, results.lines)
        }
    }

    private func relay(_ log: EventLog) async throws {
        guard records >= 1000 else { throw CommandExit.input("--records must be at least 1000.") }
        guard window >= 1 else { throw CommandExit.input("--window must be at least 1.") }
        var cluster: LocalNATSCluster?
        let servers: [NATSServerURL]
        if let nats {
            do { servers = try NATSServerURL.list(nats) } catch let error as KirokuError { throw CommandExit.input(error.message) }
        } else {
            cluster = try await LocalNATSCluster(size: 3)
            servers = cluster!.servers
        }
        defer { cluster?.stop() }
        let bench = RelayBench(log: log, records: records, payload: payload, window: window, rate: rate ?? 1000,
                               duration: duration, servers: servers, cluster: cluster)
        let results = try await bench.run()
        report(results.fields, results.lines)
    }

    private func report(_ fields: [String: Any], _ lines: [String]) {
        if output.json { Output.json(fields) } else { lines.forEach { print($0) } }
    }

    /// Runs `tasks` tasks calling `body(task, n)` until `duration` passes, paced to `rate` when given.
    private func drive(tasks: Int, rate: Int?, label: String, count: @escaping @Sendable () -> UInt64,
                       _ body: @escaping @Sendable (Int, Int) async throws -> Void) async throws -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        let end = start + .milliseconds(Int(duration * 1000))
        let perTask = rate.map { Duration.seconds(1) * (Double(tasks) / Double($0)) }
        let working = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<tasks {
                    group.addTask {
                        var n = 0
                        while clock.now < end {
                            if let perTask { try await clock.sleep(until: start + perTask * n, tolerance: .microseconds(100)) }
                            try await body(task, n)
                            n += 1
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        var progress = Progress(label, total: nil)
        while clock.now < end {
            try await Task.sleep(for: .milliseconds(200))
            progress.update(count())
        }
        try await working.value
        progress.finish()
        let elapsed = clock.now - start
        return elapsed.seconds
    }

    private func appends(_ log: EventLog) async throws {
        let latencies = Latencies()
        let bytes = Data(repeating: 0x61, count: payload)
        let seconds = try await drive(tasks: concurrency, rate: rate, label: "appends", count: { latencies.count }) { task, n in
            let sent = ContinuousClock.now
            _ = try await log.append(to: "bench-\(task)-\(n % 100)", EventData(type: "Benchmarked", payload: bytes))
            latencies.record(ContinuousClock.now - sent)
        }
        let throughput = Double(latencies.count) / seconds
        report(["workload": "append", "concurrency": concurrency, "payload": payload, "seconds": seconds, "appends": latencies.count,
                "appendsPerSecond": throughput, "latencyMicros": latencies.summary()],
               [String(format: "%llu durable appends of %d bytes from %d tasks in %.1f s: %.0f appends/s", latencies.count, payload, concurrency, seconds, throughput),
                "latency: " + latencies.line()])
    }

    private func feed(_ log: EventLog) async throws {
        let target = rate ?? 10_000
        let delivery = Latencies()
        var settings = KeyedProcessor.Configuration()
        settings.lanes = lanes
        settings.start = .end
        let processor = KeyedProcessor(log: log, consumer: "kiroku-bench", configuration: settings) { record in
            delivery.record(since: record.timestamp)
        }
        let running = Task { try await processor.run() }
        try await Task.sleep(for: .milliseconds(100))
        let bytes = Data(repeating: 0x61, count: payload)
        // One appending task per 1000 records/s (at most 64) keeps the pace without a backlog.
        let tasks = min(64, max(1, target / 1000))
        let appended = Locked<UInt64>(0)
        let seconds = try await drive(tasks: tasks, rate: target, label: "records", count: { delivery.count }) { task, n in
            _ = try await log.append(to: "bench-\(task)-\(n % 1000)", EventData(type: "Benchmarked", payload: bytes))
            appended.withLock { $0 += 1 }
        }
        let total = appended.withLock { $0 }
        let deadline = ContinuousClock.now + .seconds(30)
        while delivery.count < total, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        processor.stop()
        _ = try? await running.value
        report(["workload": "feed", "rate": target, "lanes": lanes, "seconds": seconds, "records": total, "deliveryLatencyMicros": delivery.summary()],
               [String(format: "%llu records at %d/s to a keyed processor with %d lanes over %.1f s", total, target, lanes, seconds),
                "delivery (commit to handler): " + delivery.line()])
    }

    private func search(_ log: EventLog) async throws {
        let corpus = ActivityCorpus()
        let head = try log.headPosition()
        if head < UInt64(documents) {
            var progress = Progress("appending", total: UInt64(documents))
            try await corpus.append(Int(head)..<documents, to: log) { progress.update(head + UInt64($0)) }
            progress.finish()
        }
        // Defined in the store's catalog, so `kiroku search <store> bench-activities` answers afterwards.
        let catalog = ProjectionCatalog(store: log.path)
        if catalog.viewVersions(of: "bench-activities").isEmpty {
            try catalog.defineSearchView("bench-activities", mapping: Data(ActivityCorpus.mapping.utf8))
        }
        guard let view = try catalog.searchView("bench-activities") else {
            throw CommandExit.notFound("The bench view 'bench-activities' has no mapping in \(log.path).")
        }
        let runner = ProjectionRunner(log: log, projections: [view], batchSize: 5000)
        let running = Task { try await runner.run() }
        defer { running.cancel() }
        let indexStart = ContinuousClock.now
        try await runner.waitUntil(view.name, hasApplied: try log.headPosition(), timeout: .seconds(3600))
        let indexing = ContinuousClock.now - indexStart
        let indexSeconds = indexing.seconds
        let reader = try runner.reader(view.name)
        var lines = [String(format: "Indexed %d documents in %.1f s (%.0f documents/s)", documents, indexSeconds, Double(documents) / indexSeconds)]
        var results: [[String: Any]] = []
        if let export {
            try SearchBenchQuery.export(reader, to: export)
            lines.append("Exported the documents and queries for scripts/bench-tantivy to \(export)")
        }
        let kinds = SearchBenchQuery.kinds.filter { kind in ProcessInfo.processInfo.environment["ONLY"].map { $0 == kind.name } ?? true }
        let perQuery = Duration.milliseconds(Int(duration * 1000 / Double(kinds.count)))
        for kind in kinds {
            let latencies = Latencies()
            let end = ContinuousClock.now + perQuery
            var i = 0
            while ContinuousClock.now < end {
                let sent = ContinuousClock.now
                _ = try reader.search(kind.variants[i % kind.variants.count].request)
                latencies.record(ContinuousClock.now - sent)
                i += 1
            }
            lines.append("\(kind.name): " + latencies.line())
            results.append(["query": kind.name, "latencyMicros": latencies.summary()])
        }
        let viewBytes = Output.directoryBytes(log.path + "/projections/bench-activities")
        var usage = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let peakBytes = Int(usage.ru_maxrss) * 1024
        #else
        getrusage(RUSAGE_SELF, &usage)
        let peakBytes = Int(usage.ru_maxrss)
        #endif
        lines.append("View on disk: \(viewBytes / 1_048_576) MiB; peak resident memory: \(peakBytes / 1_048_576) MiB")
        report(["workload": "search", "documents": documents, "indexSeconds": indexSeconds, "queries": results,
                "viewBytes": viewBytes, "peakResidentBytes": peakBytes], lines)
    }
}
