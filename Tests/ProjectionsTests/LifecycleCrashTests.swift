import Foundation
import KirokuFeed
import KirokuLog
import KirokuProjections
import KirokuSearch
import KirokuTestSupport
import Testing

/// The lifecycle crash campaign: a worker process appends, soft- and hard-deletes, erases,
/// truncates, compacts and enforces retention in small steps, with a search view following,
/// and is killed with SIGKILL at random moments (so often in the middle of a removal or
/// erasure step, or between an erasure and its scrub). After each kill the store is reopened
/// and checked: verify is clean; every acknowledged event is there byte for byte, or was
/// removed by what the log itself shows (a later deletion marker of its key, or compaction);
/// once the work left is finished, no key keeps history below its deletion, no record below
/// an erasure keeps a payload, and no erased event's bytes are in the log's file or the
/// view's, which answers no search for them.
///
/// `make test` runs 12 kills; `KIROKU_LIFECYCLE_KILLS` more. Replay with `KIROKU_SEED`.
@Suite(.timeLimit(.minutes(20))) struct LifecycleCrashTests {
    static let kills = Int(ProcessInfo.processInfo.environment["KIROKU_LIFECYCLE_KILLS"] ?? "") ?? 12

    @Test func killedDuringRemovalsAndErasuresNothingIsLostAndNothingErasedRemains() async throws {
        let helper = try helperExecutable()
        let seed = SeededGenerator.seed(label: "killedDuringRemovalsAndErasures")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory("kiroku-lifecycle-crash")
        defer { directory.remove() }
        let store = directory.sub("store")
        let acks = directory.sub("acks")
        let errors = directory.sub("worker.err")
        var markers = Set<UInt64>()
        for run in 1...Self.kills {
            let context = "seed \(seed), kill \(run) of \(Self.kills)"
            _ = FileManager.default.createFile(atPath: errors, contents: nil)
            let worker = Process()
            worker.executableURL = helper
            worker.arguments = ["lifecycle", store, acks, String(run)]
            worker.standardOutput = FileHandle.nullDevice
            worker.standardError = FileHandle(forWritingAtPath: errors)
            let written = CrashCampaignTests.size(of: acks)
            try worker.run()
            let deadline = ContinuousClock.now + .seconds(60)
            while CrashCampaignTests.size(of: acks) == written, worker.isRunning, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(2))
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 50...400, using: &random)))
            guard worker.isRunning else {
                worker.waitUntilExit()
                Issue.record("\(context): the worker stopped by itself (status \(worker.terminationStatus)): \((try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")")
                return
            }
            kill(worker.processIdentifier, SIGKILL)
            worker.waitUntilExit()
            markers.formUnion(try await check(store: store, acks: acks, context: context))
        }
        #expect(markers.count >= Self.kills / 2, "seed \(seed): the kills must land on a store with deletions and erasures (\(markers.count) markers)")
        print("lifecycle crash campaign: \(Self.kills) kills, \(markers.count) deletion markers seen, seed \(seed)")
    }

    /// Checks the store after a kill; returns the positions of the deletion markers the log holds.
    private func check(store: String, acks: String, context: String) async throws -> Set<UInt64> {
        let log = try EventLog(path: store)
        defer { log.close() }
        var problems: [String] = []
        let before = try await offThePool { try log.verify() }
        #expect(before.isClean, "\(context): verify right after the kill: \(before.problems.prefix(5))")

        func readLog() throws -> [UInt64: Record] {
            var all: [UInt64: Record] = [:]
            var next: UInt64 = 1
            while true {
                let page = try log.readAll(from: next, limit: 1000)
                guard let last = page.last else { break }
                for record in page { all[record.position] = record }
                next = last.position + 1
            }
            return all
        }
        let acked = ((try? String(contentsOfFile: acks, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line -> (id: String, key: String, version: UInt64, position: UInt64)? in
            let fields = line.split(separator: " ")
            guard fields.count == 5, fields[0] == "ack", let version = UInt64(fields[3]), let position = UInt64(fields[4]) else { return nil }
            return (String(fields[1]), String(fields[2]), version, position)
        }

        // Every acknowledged event is there, or the log shows why not.
        var records = try readLog()
        var markersByKey: [String: [Record]] = [:]
        for record in records.values where record.deletion != nil { markersByKey[record.key, default: []].append(record) }
        var latestVersion: [String: UInt64] = [:]
        for record in records.values { latestVersion[record.key] = max(latestVersion[record.key] ?? 0, record.version) }
        func laterMarker(_ key: String, after position: UInt64, erasing: Bool? = nil) -> Bool {
            markersByKey[key, default: []].contains { $0.position > position && (erasing == nil || $0.isErased == erasing) }
        }
        for ack in acked {
            let expected = LifecycleWorkload.event(id: ack.id)
            if let record = records[ack.position] {
                if record.id != ack.id || record.key != ack.key || record.version != ack.version {
                    problems.append("position \(ack.position) holds \(record.key) v\(record.version) (\(record.id ?? "-")), acknowledged \(ack.id) \(ack.key) v\(ack.version)")
                } else if record.isErased {
                    if !laterMarker(ack.key, after: ack.position) { problems.append("\(ack.id) is erased without an erasure after it") }
                } else if record.payload != expected.payload || record.metadata != expected.metadata {
                    problems.append("\(ack.id) at \(ack.position) is not what was appended")
                }
            } else {
                let compacted = ack.key.hasPrefix("c-") && (latestVersion[ack.key] ?? 0) > ack.version
                if !compacted && !laterMarker(ack.key, after: ack.position) {
                    problems.append("acknowledged \(ack.id) (\(ack.key) v\(ack.version) at \(ack.position)) is gone, and no deletion or compaction explains it")
                }
            }
        }

        // The work the kill interrupted finishes; then nothing below a deletion remains.
        try await log.finishPendingRemovals(stepSize: 50)
        let deadline = ContinuousClock.now + .seconds(20)
        while try log.statistics().scrubPending, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(try log.statistics().scrubPending == false, "\(context): the erasure's scrub is still owed")
        records = try readLog()
        let byKey = Dictionary(grouping: records.values, by: \.key)
        for (key, markers) in markersByKey {
            guard let last = markers.max(by: { $0.position < $1.position }) else { continue }
            for record in byKey[key, default: []] where record.version < last.version {
                if !last.isErased && record.position < last.position {
                    problems.append("\(key) v\(record.version) is still stored below its deletion at \(last.position)")
                } else if last.isErased && !record.isErased && record.deletion == nil {
                    problems.append("\(key) v\(record.version) keeps its payload below its erasure at \(last.position)")
                }
            }
            let visible = try log.read(key: key).map(\.version)
            if let first = visible.first, first <= last.version { problems.append("\(key) reads from v\(first), below its deletion v\(last.version)") }
        }

        // The view catches up (from its checkpoint, scrubbing after an erasure it owed).
        let view = SearchView(name: LifecycleWorkload.view, mapping: try SearchMapping(json: Data(LifecycleWorkload.mapping.utf8)))
        let runner = ProjectionRunner(log: log, projections: [view], batchSize: 64)
        let running = Task { try await runner.run() }
        try await runner.waitUntil(LifecycleWorkload.view, hasApplied: try log.headPosition(), timeout: .seconds(120))
        let reader = try runner.reader(LifecycleWorkload.view)
        defer { running.cancel() }

        // No erased event's bytes anywhere: in the log's file, the view's, or a search.
        let erased = acked.filter { ack in laterMarker(ack.key, after: ack.position, erasing: true) }
        let kept = acked.filter { ack in records[ack.position].map { !$0.isErased && $0.deletion == nil } ?? false }
        // Every workload word in each file ("zq" and 12 lower-case letters), on a GCD thread
        // (the scan blocks).
        let found: [String: Set<String>] = try await offThePool {
            var found: [String: Set<String>] = [:]
            let enumerator = FileManager.default.enumerator(atPath: store)
            while let file = enumerator?.nextObject() as? String {
                guard file.hasSuffix("data.mdb"), let data = FileManager.default.contents(atPath: store + "/" + file) else { continue }
                // Foundation's search (compiled optimized) finds each "zq"; only those are looked at.
                let marker = Data("zq".utf8)
                var from = data.startIndex
                while let hit = data.range(of: marker, in: from..<data.endIndex) {
                    let index = hit.lowerBound
                    if index + 14 <= data.endIndex, data[(index + 2)..<(index + 14)].allSatisfy({ (97...122).contains($0) }) {
                        let word = String(decoding: data[index..<(index + 14)], as: UTF8.self)
                        found[word, default: []].insert("\(file)@page \((index - data.startIndex) / 4096)")
                    }
                    from = hit.upperBound
                }
            }
            return found
        }
        for ack in erased {
            let word = LifecycleWorkload.word(id: ack.id)
            if let places = found[word] { problems.append("erased \(ack.id) (\(ack.key) at \(ack.position)): '\(word)' is still in \(places.sorted())") }
        }
        if let sample = kept.last {
            let word = LifecycleWorkload.word(id: sample.id)
            if found[word] == nil { problems.append("kept \(sample.id)'s '\(word)' is in no file: the check cannot see bytes") }
        }
        for ack in erased.suffix(20) {
            let hits = try reader.search(SearchRequest(LifecycleWorkload.word(id: ack.id))).total
            if hits > 0 { problems.append("a search still finds erased \(ack.id)") }
        }
        #expect(problems.isEmpty, "\(context): \(problems.prefix(10))")
        let after = try await offThePool { try log.verify() }
        #expect(after.isClean, "\(context): verify after the work was finished: \(after.problems.prefix(5))")
        return Set(markersByKey.values.flatMap { $0.map(\.position) })
    }
}
