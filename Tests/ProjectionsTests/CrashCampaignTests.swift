import KirokuFeed
import Foundation
import KirokuTestSupport
import KirokuLog
import KirokuProjections
import KirokuSearch
import Testing

/// The crash campaign: a worker process runs the mixed workload of `CrashWorkload` (concurrent
/// appends with ids, multi-key batches, exact expected versions, idempotent retries, a
/// counting projection, a search view, a keyed processor's checkpoints) and is killed with
/// SIGKILL at random moments. After each kill the store is reopened and checked: every
/// acknowledged event is there, byte for byte; positions and per-key versions have no gaps
/// and no id is stored twice; verify is clean; consumer checkpoints are at most the head;
/// the projections, caught up, equal those of a runner that was never killed.
///
/// `make test` runs 20 kills; `make crash-test` runs 200 (`KIROKU_CRASH_KILLS`). Replay a
/// run with `KIROKU_SEED`.
@Suite(.timeLimit(.minutes(60))) struct CrashCampaignTests {
    static let kills = Int(ProcessInfo.processInfo.environment["KIROKU_CRASH_KILLS"] ?? "") ?? 20

    @Test func killedAtRandomMomentsNothingAcknowledgedIsLost() async throws {
        let helper = try helperExecutable()
        let seed = SeededGenerator.seed(label: "killedAtRandomMomentsNothingAcknowledgedIsLost")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory("kiroku-crash-campaign")
        defer { directory.remove() }
        let store = directory.sub("store")
        let acks = directory.sub("acks")
        let errors = directory.sub("worker.err")
        var acknowledged: [Int] = []
        var inFlight = 0
        for run in 1...Self.kills {
            let context = "seed \(seed), kill \(run) of \(Self.kills)"
            _ = FileManager.default.createFile(atPath: errors, contents: nil)
            let worker = Process()
            worker.executableURL = helper
            worker.arguments = ["crash", store, acks, String(run)]
            worker.standardOutput = FileHandle.nullDevice
            worker.standardError = FileHandle(forWritingAtPath: errors)
            let written = Self.size(of: acks)
            try worker.run()
            // One kill in four lands at a random moment of start-up and recovery; the others
            // once the worker is appending (the acknowledgement file grows), however slow its
            // start (sanitizers): a random 20-300 ms into its work.
            if run % 4 == 0 {
                try await Task.sleep(for: .milliseconds(Int.random(in: 0...150, using: &random)))
            } else {
                let deadline = ContinuousClock.now + .seconds(60)
                while Self.size(of: acks) == written, worker.isRunning, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(2))
                }
                try await Task.sleep(for: .milliseconds(Int.random(in: 20...300, using: &random)))
            }
            guard worker.isRunning else {
                worker.waitUntilExit()
                let message = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
                Issue.record("\(context): the worker stopped by itself (status \(worker.terminationStatus)): \(message)")
                return
            }
            kill(worker.processIdentifier, SIGKILL)
            worker.waitUntilExit()
            let checked = try await check(store: store, acks: acks, context: context)
            acknowledged.append(checked.acknowledged)
            inFlight += checked.inFlight
        }
        // The kills must land on a store that is being written, not only on start-ups.
        let grew = zip(acknowledged, acknowledged.dropFirst()).filter { $0 < $1 }.count
        #expect(grew >= Self.kills / 2, "seed \(seed): acknowledged appends after each kill: \(acknowledged)")
        print("crash campaign: \(Self.kills) kills, \(acknowledged.last ?? 0) acknowledged events, \(inFlight) appends in flight at a kill and retried, seed \(seed)")
    }

    static func size(of path: String) -> UInt64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.uint64Value ?? 0
    }

    /// Reopens the store after a kill and checks everything; returns the number of acknowledged
    /// events and of appends that were in flight (the next run retries them).
    private func check(store: String, acks: String, context: String) async throws -> (acknowledged: Int, inFlight: Int) {
        let (acked, pending) = CrashWorkload.read((try? String(contentsOfFile: acks, encoding: .utf8)) ?? "")
        let log = try EventLog(path: store)
        defer { log.close() }

        // The whole log: gapless positions and versions, each id once, every byte as written.
        var problems: [String] = []
        var stored: [String: (key: String, version: UInt64, position: UInt64)] = [:]
        var versions: [String: UInt64] = [:]
        var counts: [String: UInt64] = ["*": 0]
        var next: UInt64 = 1
        while true {
            let page = try log.readAll(from: next, limit: 1000)
            guard !page.isEmpty else { break }
            for record in page {
                if record.position != next { problems.append("position \(next) is missing (found \(record.position))") }
                next = record.position + 1
                let version = versions[record.key, default: 0] + 1
                if record.version != version { problems.append("\(record.key) has version \(record.version) at \(record.position), expected \(version)") }
                versions[record.key] = record.version
                guard let id = record.id else {
                    problems.append("the record at \(record.position) has no id")
                    continue
                }
                if let earlier = stored[id] { problems.append("id \(id) is stored twice: at \(earlier.position) and \(record.position)") }
                stored[id] = (record.key, record.version, record.position)
                let expected = CrashWorkload.event(id: id)
                if record.type != expected.type || record.payload != expected.payload {
                    problems.append("the record at \(record.position) (\(id)) is not what was appended")
                }
                counts[record.type, default: 0] += 1
                counts["*", default: 0] += 1
            }
        }
        let head = try log.headPosition()
        if next - 1 != head { problems.append("the head is \(head) but records end at \(next - 1)") }

        // Every acknowledged event, where its acknowledgement said.
        for ack in acked {
            guard let found = stored[ack.id] else {
                problems.append("acknowledged \(ack.id) at \(ack.position) is lost")
                continue
            }
            if found != (ack.key, ack.version, ack.position) {
                problems.append("acknowledged \(ack.id) was \(ack.key) v\(ack.version) at \(ack.position), stored as \(found.key) v\(found.version) at \(found.position)")
            }
        }
        let found = problems.count
        #expect(found == 0, "\(context): \(problems.prefix(10))")

        let report = try log.verify()
        let verifyProblems = report.problems.count
        #expect(verifyProblems == 0, "\(context): verify: \(report.problems.prefix(5))")
        if let checkpoint = try await Consumers(log: log).checkpoint(of: CrashWorkload.consumer) {
            #expect(checkpoint <= head, "\(context): consumer checkpoint \(checkpoint) beyond head \(head)")
        }

        // The worker's projections, resumed from their checkpoints, against a runner never killed.
        let mapping = try SearchMapping(json: Data(CrashWorkload.mapping.utf8))
        let runner = ProjectionRunner(log: log, projections: [
            EventCounts(), SearchView(name: CrashWorkload.searchView, mapping: mapping),
            EventCounts(name: "reference-counts"), SearchView(name: "reference-search", mapping: mapping),
        ])
        let running = Task { try await runner.run() }
        for name in ["event-counts", CrashWorkload.searchView, "reference-counts", "reference-search"] {
            try await runner.waitUntil(name, hasApplied: head, timeout: .seconds(120))
        }
        for type in CrashWorkload.types + ["*"] {
            let resumed = try EventCounts.count(of: type, in: runner.reader("event-counts"))
            let reference = try EventCounts.count(of: type, in: runner.reader("reference-counts"))
            #expect(resumed == counts[type, default: 0] && reference == resumed,
                    "\(context): \(type): resumed \(resumed), never killed \(reference), in the log \(counts[type, default: 0])")
        }
        for query in CrashWorkload.words + ["owner:o1", "n:[100 TO 600]", "東京 OR invoice", "-meeting owner:(o2 OR o3)"] {
            let request = SearchRequest(query, limit: 10_000, facets: ["owner"], snippets: false)
            let resumed = try runner.reader(CrashWorkload.searchView).search(request)
            let reference = try runner.reader("reference-search").search(request)
            #expect(resumed.total == reference.total && Set(resumed.hits.map(\.id)) == Set(reference.hits.map(\.id))
                    && resumed.facets == reference.facets,
                    "\(context): search '\(query)': resumed \(resumed.total) hits, never killed \(reference.total)")
        }
        running.cancel()
        try await running.value
        return (acked.count, pending.count)
    }
}
