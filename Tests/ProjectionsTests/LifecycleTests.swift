import Foundation
import KirokuFeed
import KirokuLog
import KirokuTestSupport
import Testing
@testable import KirokuProjections
@testable import KirokuSearch

/// Deletion, erasure, retention and backups with feeds and views running (docs/LOG.md, "Data
/// lifecycle"). The model of the rules is `LifecycleModelPropertyTests`; these check what the
/// model cannot see: bytes in files, feeds behind retention, views, copies.
@Suite(.timeLimit(.minutes(5))) struct LifecycleTests {

    /// A mapping whose documents are not named by the key: the key's deletion must find them.
    static let byActivityMapping = """
    {"types": ["ActivityLogged"], "id": "$.activityId",
     "fields": {"text": {"path": "$.text", "type": "text"}, "owner": {"path": "$.owner", "type": "keyword"}}}
    """

    @Test func erasureLeavesNoPayloadBytesInTheLogTheViewsOrALaterBackup() async throws {
        try await withLog(label: "kiroku-erase") { log, directory in
            let views: [any Projection] = [
                SearchView(name: "by-key", mapping: try SearchMapping(json: Data(activityMapping.utf8))),
                SearchView(name: "by-activity", mapping: try SearchMapping(json: Data(Self.byActivityMapping.utf8))),
                LatestState(),
            ]
            let runner = ProjectionRunner(log: log, projections: views, batchSize: 7)
            let running = Task { try await runner.run() }
            // Enough records to span many pages, rewritten by updates (old copies in free pages).
            for i in 0..<120 {
                try await log.append(to: "customer-1", jsonEvent("ActivityLogged", [
                    "activityId": "act-\(i)", "text": "zqxsecret number \(i) 秘密メモ", "owner": "zqxowner", "amount": i]))
                try await log.append(to: "customer-2", jsonEvent("ActivityLogged", [
                    "activityId": "keep-\(i)", "text": "keepme public \(i)", "owner": "bob"]))
            }
            try await log.append(to: "customer-1", EventData(type: "ActivityLogged", payload: Data(#"{"activityId":"m","text":"x"}"#.utf8),
                                                             metadata: Data("zqxmetadata".utf8)))
            try await runner.waitUntil("by-activity", hasApplied: try log.headPosition(), timeout: .seconds(60))
            try await runner.waitUntil("by-key", hasApplied: try log.headPosition(), timeout: .seconds(60))
            #expect(try runner.reader("by-activity").search(SearchRequest("zqxsecret", limit: 500)).total == 120)
            #expect(!dataFilesContaining("zqxsecret", under: directory.path).isEmpty, "the test must see the bytes before erasure")

            let report = try await log.erase(key: "customer-1")
            #expect(report.records == 121)
            #expect(report.scrub.pagesPending == 0)
            let head = try log.headPosition()
            for name in ["by-key", "by-activity", "latest-state"] { try await runner.waitUntil(name, hasApplied: head, timeout: .seconds(60)) }
            #expect(try runner.reader("by-activity").search(SearchRequest("zqxsecret")).total == 0)
            #expect(try runner.reader("by-activity").search(SearchRequest("owner:zqxowner")).total == 0)
            #expect(try runner.reader("by-key").search(SearchRequest("秘密")).total == 0)
            #expect(try runner.reader("by-activity").search(SearchRequest("keepme", limit: 500)).total == 120)
            #expect(try LatestState.entry(for: "customer-1", in: runner.reader("latest-state")) == nil)
            #expect(try LatestState.entry(for: "customer-2", in: runner.reader("latest-state")) != nil)
            running.cancel()
            _ = try? await running.value

            for secret in ["zqxsecret", "zqxowner", "zqxmetadata", "秘密メモ"] {
                #expect(dataFilesContaining(secret, under: directory.path) == [], "\(secret) is still in a file")
            }
            #expect(!dataFilesContaining("keepme", under: directory.path).isEmpty)
            // The envelopes stay: positions gapless, the key's history hidden, verify clean.
            let all = try log.readAll(from: 1, limit: 1000)
            #expect(all.count == Int(head))
            let erased = all.filter { $0.key == "customer-1" }
            #expect(erased.dropLast().allSatisfy { $0.isErased && $0.payload.isEmpty && $0.metadata == nil && $0.type == "ActivityLogged" })
            #expect(erased.last?.deletion == .soft && erased.last?.isErased == true && erased.last?.type == "$erased")
            #expect(try log.read(key: "customer-1").isEmpty)
            #expect(try log.verify().isClean)
            // The key may start again.
            let again = try await log.append(to: "customer-1", event("ActivityLogged", "{}"), expected: .noStream)
            #expect(again.versions.lowerBound == 123)

            let backup = directory.sub("backup")
            try ProjectionCatalog(store: log.path).backup(into: backup)
            try log.backup(to: backup)
            #expect(dataFilesContaining("zqxsecret", under: backup) == [])
            #expect(!dataFilesContaining("keepme", under: backup).isEmpty)
        }
    }

    /// An erasure followed by a deletion before the erasure's step ran (a replica receives both
    /// in one batch; a crash can leave both queued): the deletion removes the records first, and
    /// the erasure still owes the scrub of their freed pages.
    @Test func anErasureOvertakenByADeletionStillScrubs() async throws {
        try await withLog(label: "kiroku-erase-then-delete") { source, directory in
            for i in 0..<60 { try await source.append(to: "customer-9", event("Noted", "zqxovertaken \(i) " + String(repeating: "x", count: 200))) }
            _ = try await source.erase(key: "customer-9")
            try await source.delete(key: "customer-9")
            // The replica gets the records as they were before the erasure, then both markers.
            let before = (1...60).map { i in
                Record(position: UInt64(i), key: "customer-9", version: UInt64(i), timestamp: Date(), type: "Noted",
                       payload: Data(("zqxovertaken \(i - 1) " + String(repeating: "x", count: 200)).utf8))
            }
            // (The source removed its erasure marker with the deletion's history; the replica gets both.)
            let markers = [
                Record(position: 61, key: "customer-9", version: 61, timestamp: Date(), type: "$erased", payload: Data(), isErased: true, deletion: .soft),
                Record(position: 62, key: "customer-9", version: 62, timestamp: Date(), type: "$deleted", payload: Data(), deletion: .soft),
            ]
            let replica = try EventLog(path: directory.sub("replica"))
            defer { replica.close() }
            try await replica.replicate(before, from: source.storeId)
            #expect(!dataFilesContaining("zqxovertaken", under: directory.sub("replica")).isEmpty)
            try await replica.replicate(markers, from: source.storeId)
            try await replica.finishPendingRemovals()
            #expect(try await eventually { try replica.statistics().scrubPending == false })
            #expect(try replica.statistics().removedRecords == 61)
            #expect(dataFilesContaining("zqxovertaken", under: directory.sub("replica")) == [])
            #expect(try replica.verify().isClean)
        }
    }

    @Test func aFeedBehindRetentionIsToldWhatToDo() async throws {
        try await withLog(label: "kiroku-retention-feed") { log, _ in
            for i in 1...50 { try await log.append(to: "k\(i % 5)", event("Tested", "\(i)")) }
            try await Consumers(log: log).commit("slow", position: 10)
            try await log.setRetention([.maxRecords(20)])
            let report = try await log.enforceRetention(stepSize: 7)
            #expect(report.removed == 30)
            #expect(report.steps >= 5)
            #expect(try log.removedThrough() == 30)
            let statistics = try log.statistics()
            #expect(statistics.firstPosition == 31 && statistics.removedRecords == 30)
            // The consumer at 10 would miss 11...30.
            let feed = EventFeed(log: log, from: .checkpoint("slow"))
            let error = await expectError(.positionRemoved) {
                for try await _ in feed.batches { break }
            }
            #expect(error?.message.contains("up to position 30") == true)
            // From the beginning, or from after the removed ones: what remains.
            #expect(try log.readAll(from: 1).map(\.position) == Array(31...50))
            #expect(try log.readAll(from: 31).count == 20)
            // Per-key reads start at the lowest stored version.
            #expect(try log.read(key: "k1").map(\.version) == [7, 8, 9, 10])
            #expect(try log.verify().isClean)
        }
    }

    @Test func retentionWhileAppendsGoOnKeepsEveryRecordAfterWhatItRemoved() async throws {
        try await withLog(label: "kiroku-retention-live") { log, _ in
            try await log.setRetention([.maxRecords(300), .compact(prefix: "c-")])
            let appender = Task {
                for i in 0..<1500 {
                    try await log.append(to: i % 3 == 0 ? "c-\(i % 10)" : "k-\(i % 40)", event("Tested", String(repeating: "x", count: 100) + "\(i)"))
                }
            }
            while !appender.isCancelled {
                try await log.enforceRetention(stepSize: 50)
                if (try? log.headPosition()) ?? 0 >= 1500 { break }
                try await Task.sleep(for: .milliseconds(3))
            }
            try await appender.value
            try await log.enforceRetention(stepSize: 50)
            let statistics = try log.statistics()
            #expect(statistics.headPosition == 1500)
            let stored = try log.readAll(from: 1, limit: 2000)
            #expect(stored.count <= 300)
            // Past what retention removed, only compaction removed anything: the latest of each c- key stays.
            let kept = Set(stored.map(\.position))
            for position in (statistics.removedThrough + 1)...1500 {
                guard let record = try? log.record(at: position) else { continue }
                #expect(kept.contains(record.position))
            }
            for c in 0..<10 {
                let versions = try log.read(key: "c-\(c)").map(\.version)
                #expect(versions.count <= 1, "c-\(c): \(versions)")
            }
            #expect(try log.verify().isClean)
        }
    }

    @Test func aCompactingBackupAfterHeavyRetentionLeavesTheFreedPagesOut() async throws {
        try await withLog(label: "kiroku-retention-backup") { log, directory in
            let payload = String(repeating: "p", count: 300)
            for batch in 0..<40 {
                try await log.append((0..<500).map { AppendGroup(key: "k\(batch)-\($0 % 50)", events: [event("Tested", payload)]) })
            }
            try await log.setRetention([.maxRecords(1_000)])
            try await log.enforceRetention()
            let statistics = try log.statistics()
            #expect(statistics.freeBytes > statistics.usedBytes / 2, "\(statistics)")
            let copy = directory.sub("copy")
            try log.backup(to: copy, compact: true)
            let copied = ((try FileManager.default.attributesOfItem(atPath: copy + "/data.mdb"))[.size] as? NSNumber)?.intValue ?? 0
            // Smaller by about the free pages (the copy renumbers what is in use).
            #expect(copied <= statistics.usedBytes - statistics.freeBytes / 2, "copy \(copied), \(statistics)")
            let restored = try EventLog(path: copy)
            defer { restored.close() }
            #expect(try restored.verify().isClean)
            #expect(try restored.statistics().removedRecords == 19_000)
            #expect(try restored.readAll(from: 1, limit: 2_000).count == 1_000)
        }
    }

    @Test func deletingKeysAndBadPoliciesSayWhatToDo() async throws {
        try await withLog(label: "kiroku-delete") { log, _ in
            try await log.append(to: "order-1", [event(), event()])
            let marker = try #require(try await log.delete(key: "order-1", mode: .hard))
            #expect(marker.version == 3)
            let error = await expectError(.keyDeleted) { try await log.append(to: "order-1", event()) }
            #expect(error?.message.contains("deleted for good") == true)
            #expect(try await log.delete(key: "order-1") == nil)
            #expect(try await log.delete(key: "never-written") == nil)
            // A soft delete: the key starts again where its versions were.
            try await log.append(to: "order-2", event())
            try await log.delete(key: "order-2")
            #expect(try log.read(key: "order-2").isEmpty)
            let again = try await log.append(to: "order-2", event(), expected: .noStream)
            #expect(again.versions.lowerBound == 3)
            await expectError(.versionConflict) { try await log.append(to: "order-2", event(), expected: .noStream) }
            // Feeds deliver the markers, also to a selection of other types.
            let records = try log.readAll(from: 1)
            #expect(records.filter { $0.deletion != nil }.map(\.type) == ["$tombstone", "$deleted"])
            #expect(records.filter(Selection.all.types(["Other"]).matches).count == 2)

            for (policy, words) in [
                (RetentionPolicy(rule: .maxBytes(1 << 20), prefix: "k-"), "whole log"),
                (RetentionPolicy(rule: .maxCountPerKey(2), types: ["A"]), "Only a maxAge policy"),
                (RetentionPolicy(rule: .maxCountPerKey(0)), "at least 1"),
                (RetentionPolicy(rule: .maxAge(seconds: -1)), "positive"),
                (RetentionPolicy(rule: .maxRecords(5), prefix: ""), "prefix is empty"),
            ] {
                let error = await expectError(.invalidRetention) { try await log.setRetention([policy]) }
                #expect(error?.message.contains(words) == true, "\(policy): \(error?.message ?? "")")
            }
            #expect(try log.retention() == [])
            #expect(try log.verify().isClean)
        }
    }

    @Test func aTypePolicyErasesOldPayloadsAndKeepsTheHistory() async throws {
        try await withLog(label: "kiroku-retention-types") { log, _ in
            for i in 0..<10 { try await log.append(to: "device-1", [event("Heartbeat", "beat \(i)"), event("Reading", "value \(i)")]) }
            try await Task.sleep(for: .milliseconds(20))
            try await log.append(to: "device-1", event("Heartbeat", "fresh"))
            try await log.setRetention([.maxAge(.milliseconds(10), types: ["Heartbeat"])])
            let report = try await log.enforceRetention(stepSize: 3)
            #expect(report.erased == 10 && report.removed == 0)
            let history = try log.read(key: "device-1")
            #expect(history.count == 21)
            #expect(history.filter { $0.type == "Heartbeat" && $0.isErased }.count == 10)
            #expect(history.filter { $0.type == "Reading" }.allSatisfy { !$0.isErased && !$0.payload.isEmpty })
            #expect(history.last?.payload == Data("fresh".utf8))
            #expect(try log.verify().isClean)
        }
    }
}
