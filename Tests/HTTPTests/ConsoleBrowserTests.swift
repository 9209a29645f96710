import Foundation
import KirokuFeed
import KirokuHTTP
import KirokuLog
import KirokuProjections
import KirokuSearch
import KirokuTestSupport
import Testing

/// The console in a real browser: headless Chromium (Debian's `chromium`, which
/// `scripts/bootstrap test` installs) loads the page from a real server, runs its script, and
/// the DOM it leaves shows the pipeline: the log's head, each consumer and projection with its
/// lag and status, the dead letter with its retry button. A screenshot is kept as an artifact
/// (`.build/test-artifacts/console.png`, or `$KIROKU_TEST_ARTIFACTS`).
@Suite(.timeLimit(.minutes(3))) struct ConsoleBrowserTests {
    @Test func theConsoleShowsThePipelineInARealBrowser() async throws {
        let browser = try #require(Self.chromium(), "No chromium on PATH: run `scripts/bootstrap test` (make test does).")
        try await withLog(label: "kiroku-console") { log, directory async throws in
            for i in 0..<30 { try await log.append(to: "activity-\(i % 7)", event("Note", #"{"text": "見積 \#(i)", "owner": "o\#(i % 3)"}"#)) }
            let catalog = ProjectionCatalog(store: log.path)
            let version = try catalog.defineSearchView("notes", mapping: APITests.mapping)
            try await ProjectionRunner.runUntilActive(log: log, projections: [try #require(try catalog.searchView("notes"))], name: "notes", version: version)
            // A consumer 8 behind, and one with a dead letter.
            try await Consumers(log: log).commit("audit", position: 22)
            var configuration = KeyedProcessor.Configuration()
            configuration.maxAttempts = 1
            let processor = KeyedProcessor(log: log, consumer: "mailer", configuration: configuration) { record in
                if record.key == "activity-3" && record.version == 1 { throw APITests.Failure() }
            }
            let running = Task { try await processor.run() }
            defer { running.cancel() }
            #expect(try await eventually { try await DeadLetters(log: log).list(consumer: "mailer").count == 1 })
            for _ in 0..<4 { try await log.append(to: "late", event()) }

            try await withServer(log, options: .init(access: .token(APITests.token))) { client in
                let page = try await client.get("/")
                #expect(page.status == 200 && page.headers["content-type"]?.hasPrefix("text/html") == true)
                #expect(!page.body.contains("http://") && !page.body.contains("https://"), "the console loads nothing from elsewhere")
                let url = "http://127.0.0.1:\(client.port)/#token=\(APITests.token)"
                let profile = directory.sub("chromium-profile")
                let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--user-data-dir=\(profile)",
                             "--window-size=1280,1000", "--virtual-time-budget=5000"]
                let dom = try await runProcess(browser, flags + ["--dump-dom", url])
                #expect(dom.status == 0, "\(dom.err.suffix(2000))")
                let html = dom.out
                #expect(html.contains(#"class="log" data-head="34""#), "\(html.prefix(4000))")
                #expect(html.contains(#"class="node consumer" data-name="audit" data-lag="12""#), "\(html.prefix(4000))")
                #expect(html.contains(#"class="node consumer" data-name="mailer""#) && html.contains(#"data-status="dead-letters""#), "\(html.prefix(4000))")
                #expect(html.contains(#"class="node projection" data-name="notes/v1" data-lag="4""#), "\(html.prefix(4000))")
                #expect(html.contains(#"class="series" data-name="audit""#), "the lag plot draws the consumer")
                #expect(html.contains(#"data-retry="mailer/"#), "the dead letter has its retry button")
                #expect(html.contains("writes enabled"))

                let artifacts = ProcessInfo.processInfo.environment["KIROKU_TEST_ARTIFACTS"] ?? Self.packageRoot() + "/.build/test-artifacts"
                try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
                let shot = artifacts + "/console.png"
                try? FileManager.default.removeItem(atPath: shot)
                let screenshot = try await runProcess(browser, flags + ["--screenshot=\(shot)", url])
                #expect(screenshot.status == 0, "\(screenshot.err.suffix(2000))")
                let size = (try FileManager.default.attributesOfItem(atPath: shot)[.size] as? Int) ?? 0
                #expect(size > 10_000, "screenshot at \(shot) is \(size) bytes")
                print("console screenshot: \(shot)")
            }
            running.cancel()
            _ = try? await running.value
        }
    }

    static func chromium() -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") + ["/usr/bin", "/usr/local/bin"] {
            for name in ["chromium", "chromium-browser", "google-chrome"] {
                let candidate = "\(directory)/\(name)"
                if FileManager.default.isExecutableFile(atPath: candidate) { return URL(fileURLWithPath: candidate) }
            }
        }
        return nil
    }

    static func packageRoot(_ file: String = #filePath) -> String {
        URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }
}
