import ArgumentParser
import KirokuFeed
import Foundation
import KirokuCorpus
import KirokuLog
import KirokuProjections
import KirokuSearch

/// `kiroku demo`: the main job.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A live tour: an activity-history stream appended from many tasks, a keyed consumer and a search view following it, and what they measured.",
        discussion: "Leaves the store for you to explore with the other commands.")

    @Argument(help: "The store directory (default: a new temporary one).") var store: String?
    @Option(help: "Events to append.") var events = 50_000
    @Option(help: "Concurrent appending tasks.") var concurrency = 32
    @OptionGroup var output: OutputOptions

    func run() async throws {
        guard events >= 100, events <= 10_000_000 else { throw CommandExit.input("--events must be 100 to 10000000.") }
        guard (1...1024).contains(concurrency) else { throw CommandExit.input("--concurrency must be 1 to 1024.") }
        let path = store ?? NSTemporaryDirectory() + "kiroku-demo-\(UUID().uuidString.prefix(8).lowercased())"
        let log = try StoreOpener.open(path, create: true)
        defer { log.close() }
        let say: (String) -> Void = { if !output.json { print($0) } }
        say("Kiroku demo on \(log.path)\n")

        // A search view defined like `kiroku view create` does, so the CLI finds it afterwards.
        let catalog = ProjectionCatalog(store: log.path)
        if catalog.viewVersions(of: "activities").isEmpty {
            try catalog.defineSearchView("activities", mapping: Data(ActivityCorpus.mapping.utf8))
        }
        let view = try Registry.shared.projection("activities", store: log.path)
        let runner = ProjectionRunner(log: log, projections: [view, EventCounts()])
        let projecting = Task { try await runner.run() }

        // A keyed consumer: per-key order, 4 lanes; it measures delivery from commit to handler.
        let delivery = Latencies()
        var settings = KeyedProcessor.Configuration()
        settings.lanes = 4
        settings.start = .end
        let consumer = KeyedProcessor(log: log, consumer: "demo-indexer", configuration: settings) { record in
            delivery.record(since: record.timestamp)
        }
        let consuming = Task { try await consumer.run() }
        try await Task.sleep(for: .milliseconds(100))

        // Append: new activities, and edits of earlier ones (a status change), with ids.
        let corpus = ActivityCorpus()
        let start = try log.headPosition()
        let base = Int(start)
        let latest = LatestAppend()
        let appendLatency = Latencies()
        let clock = ContinuousClock()
        let began = clock.now
        let tasks = concurrency, total = events
        let finished = Locked(false)
        let appending = Task {
            defer { finished.withLock { $0 = true } }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in 0..<tasks {
                    group.addTask {
                        let encoder = JSONEncoder()
                        for n in stride(from: lane, to: total, by: tasks) {
                            let i = base + n
                            let event: EventData
                            let key: String
                            if n % 10 == 9, n >= 10 * tasks {
                                // An activity this task appended earlier.
                                let edited = corpus.activity(i - 10 * tasks)
                                key = edited.key
                                event = EventData(type: "ActivityEdited", payload: try encoder.encode(["status": "won"]), id: "demo-\(i)")
                            } else {
                                let activity = corpus.activity(i)
                                key = activity.key
                                event = EventData(type: "ActivityLogged", payload: try encoder.encode(activity), id: "demo-\(i)")
                            }
                            let sent = ContinuousClock.now
                            let result = try await log.append(to: key, event)
                            appendLatency.record(ContinuousClock.now - sent)
                            latest.set(result.positions.upperBound)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        // Append-to-searchable: every 10 ms, the latest acknowledged append is timed until the
        // search view has applied it.
        let searchable = Latencies()
        var progress = Progress("appending", total: UInt64(total))
        try await latest.sample(every: .milliseconds(10), while: { !finished.withLock { $0 } }, until: { position in
            try await runner.waitUntil("activities", hasApplied: position, timeout: .seconds(60))
        }, record: { lag in
            searchable.record(lag)
            progress.update(appendLatency.count)
        })
        try await appending.value
        let elapsed = clock.now - began
        progress.update(UInt64(total), force: true)
        progress.finish()
        let head = try log.headPosition()
        try await runner.waitUntil("activities", hasApplied: head, timeout: .seconds(600))
        try await runner.waitUntil("event-counts", hasApplied: head, timeout: .seconds(600))
        let consumers = try await Consumers(log: log)
        let deadline = ContinuousClock.now + .seconds(60)
        while try consumers.checkpoint(of: "demo-indexer") ?? 0 < head, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let seconds = elapsed.seconds
        let rate = Double(total) / seconds

        // Searches.
        let reader = try runner.reader("activities")
        let searches: [(String, SearchRequest)] = [
            ("A Japanese term and a filter, with facets", SearchRequest("見積 status:won", limit: 3, facets: ["owner"])),
            ("A Japanese phrase, newest first", SearchRequest("\"デモを実施\" date:[2024-01-01 TO *]", limit: 3, sort: .init("date", descending: true), facets: ["status"])),
            ("English and an amount range", SearchRequest("renewal amount:>=1000000", limit: 3, facets: ["customer"])),
        ]
        var results: [(String, String, SearchResults)] = []
        for (title, request) in searches {
            guard case .text(let query) = request.query else { continue }
            results.append((title, query, try reader.search(request)))
        }
        let consumerStatus = try consumers.list()
        let projectionStatus = try runner.status()
        consumer.stop()
        _ = try? await consuming.value
        projecting.cancel()
        _ = try? await projecting.value

        if output.json {
            Output.json([
                "store": log.path, "events": total, "concurrency": tasks, "seconds": seconds, "appendsPerSecond": rate,
                "appendLatencyMicros": appendLatency.summary(), "deliveryLatencyMicros": delivery.summary(),
                "searchableLatencyMicros": searchable.summary(),
                "searches": results.map { ["query": $0.1, "total": $0.2.total, "facets": $0.2.facets.mapValues { $0.map { ["value": $0.value, "count": $0.count] } }] as [String: Any] },
            ])
            return
        }
        print(String(format: "Appended %d events from %d tasks in %.2f s: %.0f events/s, each durable (fsync) with group commit.", total, tasks, seconds, rate))
        print("  append latency:          \(appendLatency.line())")
        print("  feed delivery (4 lanes): \(delivery.line())")
        print("  append to searchable:    \(searchable.line())")
        for (title, query, result) in results {
            print("\n\(title): kiroku search \(log.path) activities '\(query)'")
            print("  \(result.total) hits")
            for hit in result.hits {
                print("  \(hit.id)  " + String((hit.snippet ?? "").replacingOccurrences(of: "\n", with: " ").prefix(100)))
            }
            for (field, counts) in result.facets.sorted(by: { $0.key < $1.key }) {
                print("  \(field): " + counts.prefix(5).map { "\($0.value) (\($0.count))" }.joined(separator: ", "))
            }
        }
        print("\nConsumers")
        Output.table(["NAME", "POSITION", "LAG", "STATUS"], consumerStatus.map { [$0.name, "\($0.position)", "\($0.lagRecords)", $0.isStalled ? "stalled" : "ok"] })
        print("\nProjections")
        Output.table(["NAME", "VERSION", "STATE", "POSITION", "LAG"], projectionStatus.map { [$0.name, "v\($0.version)", $0.state.rawValue, "\($0.position)", "\($0.lag)"] })
        print("""

        Explore the store:
          kiroku search \(log.path) activities '打ち合わせ owner:user-001' --facet status
          kiroku read \(log.path) --key activity-42 --json
          kiroku tail \(log.path) --from end
          kiroku projections \(log.path) status
          kiroku stats \(log.path)
          kiroku verify \(log.path)
          kiroku serve \(log.path)   # the web console, /health and /metrics on http://127.0.0.1:8080
        """)
    }
}
