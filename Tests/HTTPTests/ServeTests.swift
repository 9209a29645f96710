import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KirokuFeed
import KirokuHTTP
import KirokuLog
import KirokuProjections
import KirokuTestSupport
import Prometheus
import Testing

/// `/health` and `/metrics` against a real server on a free loopback port, with a real keyed
/// processor and projection runner behind them.
@Suite(.timeLimit(.minutes(3))) struct ServeTests {
    /// A handler that blocks: the process is up, its consumer is stuck. `/health` turns 503
    /// naming it within the stall time, and 200 again once the handler resumes.
    @Test func healthTurnsUnhealthyWhileAHandlerBlocksAndHealthyWhenItResumes() async throws {
        try await withLog(label: "kiroku-serve-health") { log, _ async throws in
            for i in 0..<10 { try await log.append(to: "k\(i % 2)", event()) }
            let gate = Locked(false)
            var configuration = KeyedProcessor.Configuration()
            configuration.stallAfter = .milliseconds(300)
            configuration.checkpointInterval = .milliseconds(50)
            let processor = KeyedProcessor(log: log, consumer: "audit", configuration: configuration) { record in
                if record.position >= 4 {
                    while !gate.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
                }
            }
            let running = Task { try await processor.run() }
            defer { running.cancel() }
            try await withServer(log) { client in
                #expect(try await eventually { try await client.get("/api/consumers").body.contains(#""position":3"#) })
                var health = try await client.get("/health")
                let deadline = ContinuousClock.now + .seconds(30)
                while health.status != 503, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                    health = try await client.get("/health")
                }
                #expect(health.status == 503, "\(health)")
                // It stays unhealthy while the handler blocks (no flapping).
                var statuses: [Int] = []
                for _ in 0..<5 { statuses.append(try await client.get("/health").status); try await Task.sleep(for: .milliseconds(20)) }
                #expect(statuses == [503, 503, 503, 503, 503])
                let reason = try #require((health.object["reasons"] as? [[String: Any]])?.first, "\(health)")
                #expect(reason["kind"] as? String == "stalled" && reason["consumer"] as? String == "audit", "\(health)")
                #expect(reason["lagRecords"] as? Int == 7 && reason["since"] != nil, "\(health)")
                let metrics = parsePrometheus(try await client.get("/metrics").body)
                #expect(metrics[#"kiroku_consumer_stalled{consumer="audit"}"#] == 1, "\(metrics)")
                #expect(metrics[#"kiroku_consumer_lag_records{consumer="audit"}"#] == 7, "\(metrics)")

                gate.withLock { $0 = true }
                #expect(try await eventually { try await client.get("/health").status == 200 })
                #expect(try await client.get("/health").body.contains(#""status":"ok""#))
            }
            running.cancel()
            _ = try? await running.value
        }
    }

    /// Metrics parse as Prometheus text and move with appends, lag and the process's own
    /// swift-metrics (writer commits, search latency), which the service's registry carries.
    @Test func metricsParseAndMoveWithAppends() async throws {
        let registry = KirokuMetrics.bootstrapPrometheus()
        try await withLog(label: "kiroku-serve-metrics") { log, _ async throws in
            for _ in 0..<10 { try await log.append(to: "k", event()) }
            try await Consumers(log: log).commit("audit", position: 2)
            try await withServer(log, options: .init(metrics: registry)) { client in
                var answer = try await client.get("/metrics")
                #expect(answer.status == 200 && answer.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true, "\(answer.headers)")
                var metrics = parsePrometheus(answer.body)
                #expect(metrics["kiroku_log_head_position"] == 10, "\(answer.body)")
                #expect(metrics[#"kiroku_consumer_lag_records{consumer="audit"}"#] == 8)
                #expect(metrics[#"kiroku_consumer_position{consumer="audit"}"#] == 2)
                let appendedBefore = try #require(metrics["kiroku_log_appended_records_total"], "\(answer.body)")
                #expect(metrics.keys.contains { $0.hasPrefix("kiroku_log_commit_duration_seconds_bucket{") }, "\(answer.body)")
                #expect(metrics.keys.contains { $0.hasPrefix("kiroku_log_commit_records_bucket{") }, "\(answer.body)")

                for _ in 0..<5 { try await log.append(to: "k", event()) }
                try await Consumers(log: log).commit("audit", position: 15)
                answer = try await client.get("/metrics")
                metrics = parsePrometheus(answer.body)
                #expect(metrics["kiroku_log_head_position"] == 15)
                #expect(metrics[#"kiroku_consumer_lag_records{consumer="audit"}"#] == 0)
                #expect(try #require(metrics["kiroku_log_appended_records_total"]) >= appendedBefore + 5)
            }
        }
    }

    /// A projection whose apply throws: `/health` names it as failed, with the error, through
    /// the service's runner; a projection nobody runs while records arrive is stalled.
    @Test func healthReportsFailedAndStalledProjections() async throws {
        try await withLog(label: "kiroku-serve-projections") { log, _ async throws in
            for _ in 0..<5 { try await log.append(to: "k", event()) }
            let runner = ProjectionRunner(log: log, projections: [Exploding()])
            let running = Task { try await runner.run() }
            defer { running.cancel() }
            try await withServer(log, options: .init(runner: runner, projectionStallAfter: .milliseconds(300))) { client in
                #expect(try await eventually { try await client.get("/health").body.contains(#""kind":"failed""#) })
                let health = try await client.get("/health")
                #expect(health.status == 503 && health.body.contains("exploding") && health.body.contains("boom at 3"), "\(health)")
                let metrics = parsePrometheus(try await client.get("/metrics").body)
                #expect(metrics[#"kiroku_projection_failed{projection="exploding"}"#] == 1, "\(metrics)")
            }
            running.cancel()
            _ = try? await running.value
        }
        try await withLog(label: "kiroku-serve-stalled") { log, _ async throws in
            for _ in 0..<5 { try await log.append(to: "k", event()) }
            // Built to the head, then nobody runs it while records arrive: stalled.
            try await ProjectionRunner.runUntilActive(log: log, projections: [EventCounts()], name: "event-counts", version: 1)
            try await withServer(log, options: .init(projectionStallAfter: .milliseconds(300))) { client in
                #expect(try await client.get("/health").status == 200)
                try await log.append(to: "k", event())
                #expect(try await eventually { try await client.get("/health").status == 503 })
                let health = try await client.get("/health")
                #expect(health.body.contains(#""projection":"event-counts""#) && health.body.contains(#""kind":"stalled""#), "\(health)")
                let metrics = parsePrometheus(try await client.get("/metrics").body)
                #expect(metrics[#"kiroku_projection_lag_records{projection="event-counts"}"#] == 1, "\(metrics)")
                #expect(try #require(metrics[#"kiroku_projection_lag_seconds{projection="event-counts"}"#]) > 0.2, "\(metrics)")
                #expect(metrics[#"kiroku_projection_stalled{projection="event-counts"}"#] == 1, "\(metrics)")
                // It runs again and catches up: healthy.
                let catchingUp = Task { try await ProjectionRunner.runUntilActive(log: log, projections: [EventCounts()], name: "event-counts", version: 1) }
                try await catchingUp.value
                #expect(try await eventually { try await client.get("/health").status == 200 })
            }
        }
    }

    /// `kiroku serve` as an operator runs it: a free port and the token, printed; writes need
    /// the token, `--read-only` refuses them; SIGTERM stops it with exit 0.
    @Test func kirokuServePrintsItsTokenAndStopsOnSIGTERM() async throws {
        let directory = TemporaryDirectory("kiroku-serve-cli")
        defer { directory.remove() }
        let store = directory.sub("store")
        do {
            let log = try EventLog(path: store)
            for _ in 0..<3 { try await log.append(to: "k", event()) }
            log.close()
        }
        let kiroku = try helperExecutable("kiroku")
        let bad = try await runProcess(kiroku, ["serve", store, "--port", "70000"])
        #expect(bad.status == 1 && bad.err.contains("is not a port"), "\(bad.err)")
        let both = try await runProcess(kiroku, ["serve", store, "--read-only", "--token", "0123456789"])
        #expect(both.status == 1 && both.err.contains("not both"), "\(both.err)")
        let short = try await runProcess(kiroku, ["serve", store, "--token", "abc"])
        #expect(short.status == 1 && short.err.contains("at least 8 characters"), "\(short.err)")

        for readOnly in [false, true] {
            let process = Process()
            process.executableURL = kiroku
            process.arguments = ["serve", store, "--port", "0"] + (readOnly ? ["--read-only"] : [])
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            let printed = Locked("")
            output.fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                if data.isEmpty { handle.readabilityHandler = nil } else { printed.withLock { $0 += String(decoding: data, as: UTF8.self) } }
            }
            try process.run()
            defer { if process.isRunning { process.terminate() } }
            #expect(await eventually(timeout: .seconds(60)) { printed.withLock { $0 }.contains("Console: ") })
            let text = printed.withLock { $0 }
            let port = try #require(text.firstMatch(of: /127\.0\.0\.1:(\d+)/).flatMap { Int($0.1) }, "\(text)")
            let client = Client(port: port)
            #expect(try await client.get("/health").status == 200)
            #expect(parsePrometheus(try await client.get("/metrics").body)["kiroku_log_head_position"] == 3)
            let refused = try await client.post("/api/deadletters/audit/purge")
            if readOnly {
                #expect(text.contains("(read-only)"), "\(text)")
                #expect(refused.status == 403 && refused.code == "read-only", "\(refused)")
            } else {
                let token = try #require(text.firstMatch(of: /#token=([0-9a-f]{32})/).map { String($0.1) }, "\(text)")
                #expect(refused.status == 401 && refused.code == "unauthorized" && refused.headers["www-authenticate"] == "Bearer", "\(refused)")
                let allowed = try await client.post("/api/deadletters/audit/purge", token: token)
                #expect(allowed.status == 200 && allowed.body.contains(#""purged":0"#), "\(allowed)")
            }
            process.terminate()
            process.waitUntilExit()
            #expect(process.terminationReason == .exit && process.terminationStatus == 0)
        }
    }
}

/// A projection whose apply throws at position 3.
struct Exploding: Projection {
    var name: String { "exploding" }
    var version: Int { 1 }
    var selection: Selection { .all }
    var tables: [String] { ["state"] }
    struct Boom: Error, CustomStringConvertible { var description: String { "boom at 3" } }
    func apply(_ records: [Record], to state: ProjectionState) throws {
        if records.contains(where: { $0.position == 3 }) { throw Boom() }
    }
}
