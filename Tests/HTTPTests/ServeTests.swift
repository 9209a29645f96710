import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KirokuFeed
import KirokuHTTP
import KirokuLog
import KirokuTestSupport
import Testing

/// `/health`, `/metrics` and `/api/consumers` against a real server on a free loopback port.
@Suite(.timeLimit(.minutes(3))) struct ServeTests {
    func get(_ port: Int, _ path: String) async throws -> (status: Int, body: String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test func healthTurnsUnhealthyWhenAConsumerStallsAndMetricsMove() async throws {
        try await withLog(label: "kiroku-serve") { log, _ async throws in
            for i in 0..<10 { try await log.append(to: "k\(i % 2)", event()) }
            let ports = AsyncStream<Int>.makeStream()
            let server = Task { try await KirokuServer(log: log, port: 0) { port in ports.continuation.yield(port) }.run() }
            defer { server.cancel() }
            var iterator = ports.stream.makeAsyncIterator()
            let port = try #require(await iterator.next())

            var health = try await get(port, "/health")
            #expect(health.status == 200 && health.body.contains(#""status":"ok""#), "\(health)")
            var metrics = try await get(port, "/metrics")
            #expect(metrics.body.contains("kiroku_log_head_position 10"), "\(metrics.body)")

            // A consumer behind the head that does not move for its stall time: a gray failure.
            let consumers = try await Consumers(log: log)
            try await consumers.commit("audit", position: 2, stallAfter: .milliseconds(200))
            try await Task.sleep(for: .milliseconds(500))
            health = try await get(port, "/health")
            #expect(health.status == 503 && health.body.contains("audit") && health.body.contains("stalled"), "\(health)")
            metrics = try await get(port, "/metrics")
            #expect(metrics.body.contains(#"kiroku_consumer_lag_records{consumer="audit"} 8"#), "\(metrics.body)")
            #expect(metrics.body.contains(#"kiroku_consumer_stalled{consumer="audit"} 1"#), "\(metrics.body)")
            // It catches up: healthy again.
            try await consumers.commit("audit", position: 10)
            health = try await get(port, "/health")
            #expect(health.status == 200, "\(health)")
            let list = try await get(port, "/api/consumers")
            #expect(list.status == 200 && list.body.contains(#""name":"audit""#) && list.body.contains(#""position":10"#), "\(list)")
            try await log.append(to: "k", event())
            #expect(try await get(port, "/metrics").body.contains("kiroku_log_head_position 11"))
        }
    }

    /// `kiroku serve` as an operator runs it: a free port, printed; SIGTERM stops it cleanly.
    @Test func kirokuServeServesUntilTerminatedAndRefusesABadPort() async throws {
        let directory = TemporaryDirectory("kiroku-serve-cli")
        defer { directory.remove() }
        let store = directory.sub("store")
        do {
            let log = try EventLog(path: store)
            for _ in 0..<3 { try await log.append(to: "k", event()) }
            log.close()
        }
        let bad = try await runProcess(try helperExecutable("kiroku"), ["serve", store, "--port", "70000"])
        #expect(bad.status == 1 && bad.err.contains("is not a port"), "\(bad.err)")

        let process = Process()
        process.executableURL = try helperExecutable("kiroku")
        process.arguments = ["serve", store, "--port", "0"]
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
        #expect(await eventually(timeout: .seconds(60)) { printed.withLock { $0 }.contains("http://127.0.0.1:") })
        let line = printed.withLock { $0 }
        let port = try #require(line.split(separator: ":").dropFirst(2).first.flatMap { Int($0.prefix { $0.isNumber }) })
        #expect(try await get(port, "/health").status == 200)
        #expect(try await get(port, "/metrics").body.contains("kiroku_log_head_position 3"))
        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)
    }
}
