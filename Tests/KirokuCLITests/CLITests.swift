import Foundation
import KirokuTestSupport
import KirokuLog
import Testing

/// Runs the built `kiroku` binary and returns its exit status and output.
func kiroku(_ arguments: [String], input: String? = nil) async throws -> (status: Int32, out: String, err: String) {
    try await runProcess(try helperExecutable("kiroku"), arguments, input: input)
}

func jsonLines(_ text: String) throws -> [[String: Any]] {
    try text.split(separator: "\n").map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
}

@Suite(.timeLimit(.minutes(3))) struct CLITests {
    /// `--help` and `help` print the usage on standard output and exit 0 (they printed
    /// nothing before: the help request ended in a catch that dropped its text).
    @Test func helpPrintsTheUsage() async throws {
        let root = try await kiroku(["--help"])
        #expect(root.status == 0 && root.out.contains("OVERVIEW: Kiroku") && root.out.contains("tail"), "\(root)")
        let viaCommand = try await kiroku(["help", "tail"])
        #expect(viaCommand.status == 0 && viaCommand.out.contains("--consumer"), "\(viaCommand)")
        let sub = try await kiroku(["bench", "--help"])
        #expect(sub.status == 0 && sub.out.contains("--concurrency"), "\(sub)")
    }

    @Test func appendAndReadWithTheirJSONShapesAndExitCodes() async throws {
        let directory = TemporaryDirectory("kiroku-cli")
        defer { directory.remove() }
        let store = directory.sub("store")
        let first = try await kiroku(["append", store, "--key", "order-1", "--type", "OrderPlaced", "--data", #"{"item": "tea"}"#, "--id", "cmd-1", "--json"])
        #expect(first.status == 0, "\(first.err)")
        let appended = try #require(try jsonLines(first.out).first)
        #expect(appended["position"] as? Int == 1 && appended["version"] as? Int == 1)
        // The same id again: the first result, not a duplicate.
        let retry = try await kiroku(["append", store, "--key", "order-1", "--type", "OrderPlaced", "--data", #"{"item": "tea"}"#, "--id", "cmd-1", "--json"])
        #expect(try jsonLines(retry.out).first?["position"] as? Int == 1)
        let conflict = try await kiroku(["append", store, "--key", "order-1", "--type", "OrderShipped", "--expected-version", "0"])
        #expect(conflict.status == 2)
        #expect(conflict.err.contains("expected") && conflict.err.contains("1"), "\(conflict.err)")
        let badData = try await kiroku(["append", store, "--key", "k", "--type", "T", "--data", "{nope"])
        #expect(badData.status == 1 && badData.err.contains("not valid JSON"))
        let badVersion = try await kiroku(["append", store, "--key", "k", "--type", "T", "--expected-version", "soon"])
        #expect(badVersion.status == 1 && badVersion.err.contains("--expected-version"))
        let usage = try await kiroku(["append", store, "--type", "T"])
        #expect(usage.status == 1)
        _ = try await kiroku(["append", store, "--key", "order-2", "--type", "OrderPlaced", "--data", "{\"item\": \"cake\"}"])

        let read = try await kiroku(["read", store, "--json"])
        #expect(read.status == 0)
        let records = try jsonLines(read.out)
        #expect(records.count == 2)
        let record = records[0]
        #expect(record["position"] as? Int == 1 && record["key"] as? String == "order-1" && record["version"] as? Int == 1)
        #expect(record["type"] as? String == "OrderPlaced" && record["id"] as? String == "cmd-1" && record["timestamp"] is String)
        #expect((record["data"] as? [String: Any])?["item"] as? String == "tea")
        #expect(try jsonLines(try await kiroku(["read", store, "--key", "order-2", "--json"]).out).map { $0["key"] as? String } == ["order-2"])
        #expect(try jsonLines(try await kiroku(["read", store, "--prefix", "order-", "--from", "2", "--json"]).out).count == 1)
        let missing = try await kiroku(["read", directory.sub("nowhere")])
        #expect(missing.status == 2 && missing.err.contains("No Kiroku store"))
    }

    @Test func importIsIdempotentAndStopsAtABadLine() async throws {
        let directory = TemporaryDirectory("kiroku-cli")
        defer { directory.remove() }
        let store = directory.sub("store")
        let lines = (0..<50).map { #"{"key": "k\#($0 % 7)", "type": "Imported", "data": {"n": \#($0)}}"# }
        let file = directory.sub("events.jsonl")
        try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let first = try await kiroku(["import", store, file, "--batch", "8", "--json"])
        #expect(first.status == 0, "\(first.err)")
        #expect(try jsonLines(first.out).first?["imported"] as? Int == 50)
        // Again, with other batch sizes: nothing new, nothing reordered.
        let again = try await kiroku(["import", store, file, "--batch", "5", "--json"])
        #expect(try jsonLines(again.out).first?["imported"] as? Int == 0)
        #expect(try jsonLines(again.out).first?["alreadyImported"] as? Int == 50)
        let read = try jsonLines(try await kiroku(["read", store, "--json"]).out)
        #expect(read.map { ($0["data"] as? [String: Any])?["n"] as? Int } == (0..<50).map { $0 })

        let bad = directory.sub("bad.jsonl")
        try (#"{"key": "a", "type": "T"}"# + "\n" + #"{"key": "b"}"# + "\n" + #"{"key": "c", "type": "T"}"#).write(toFile: bad, atomically: true, encoding: .utf8)
        let stopped = try await kiroku(["import", store, bad])
        #expect(stopped.status == 1 && stopped.err.contains("Line 2") && stopped.err.contains("\"type\""), "\(stopped.err)")
        #expect(try jsonLines(try await kiroku(["read", store, "--key", "a", "--json"]).out).count == 1)
        let skipped = try await kiroku(["import", store, bad, "--skip-bad", "--json"])
        #expect(skipped.status == 0 && skipped.err.contains("skipped line 2"))
        #expect(try jsonLines(skipped.out).first?["skipped"] as? Int == 1)
        #expect(try jsonLines(try await kiroku(["read", store, "--key", "c", "--json"]).out).count == 1)
    }

    /// The first wave's import defects, as a user met them: canonically equivalent keys made
    /// `verify` fail; repeated records failed a batch or vanished depending on `--batch`; an
    /// id re-used with other content was dropped without a word; invalid UTF-8 was replaced.
    @Test func importKeepsKeysAsBytesCountsRepeatsAndNamesReusedIds() async throws {
        let directory = TemporaryDirectory("kiroku-cli")
        defer { directory.remove() }
        let keys = directory.sub("keys.jsonl")
        try (#"{"key": "caf\#u{E9}", "type": "T"}"# + "\n" + #"{"key": "cafe\#u{301}", "type": "T"}"#).write(toFile: keys, atomically: true, encoding: .utf8)
        let store = directory.sub("store")
        let imported = try await kiroku(["import", store, keys, "--json"])
        #expect(try jsonLines(imported.out).first?["imported"] as? Int == 2, "\(imported.err)")
        let verified = try await kiroku(["verify", store])
        #expect(verified.status == 0, "\(verified.out)\(verified.err)")
        let decomposed = try await kiroku(["read", store, "--key", "cafe\u{301}", "--json"])
        let positions = try jsonLines(decomposed.out).map { $0["position"] as? Int }
        #expect(decomposed.status == 0 && positions == [2], "\(decomposed.err)")

        // Five lines: a repeat of line 1 (identical), then line 4 re-uses line 2's id with other data.
        let repeats = directory.sub("repeats.jsonl")
        try [#"{"key": "a", "type": "T", "id": "1", "data": {"n": 1}}"#, #"{"key": "b", "type": "T", "id": "2", "data": {"n": 2}}"#,
             #"{"key": "a", "type": "T", "id": "1", "data": {"n": 1}}"#, #"{"key": "b", "type": "T", "id": "2", "data": {"n": 3}}"#,
             #"{"key": "c", "type": "T", "id": "3"}"#].joined(separator: "\n").write(toFile: repeats, atomically: true, encoding: .utf8)
        for batch in ["1", "1000"] {
            let target = directory.sub("repeats-\(batch)")
            let stopped = try await kiroku(["import", target, repeats, "--batch", batch])
            #expect(stopped.status == 1, "\(stopped.err)")
            #expect(stopped.err.contains("Line 4:") && stopped.err.contains("'2'") && stopped.err.contains("payload differs")
                    && stopped.err.contains("position 2 (line 2 of this file)"), "\(stopped.err)")
            #expect(try jsonLines(try await kiroku(["read", target, "--json"]).out).count == 2)
            let skipped = try await kiroku(["import", target, repeats, "--batch", batch, "--skip-bad", "--json"])
            #expect(skipped.err.contains("skipped line 4") && skipped.err.contains("payload differs"), "\(skipped.err)")
            let summary = try #require(try jsonLines(skipped.out).first)
            #expect(summary["imported"] as? Int == 1 && summary["alreadyImported"] as? Int == 3 && summary["skipped"] as? Int == 1, "\(summary)")
        }
        let fresh = try await kiroku(["import", directory.sub("repeats-fresh"), repeats, "--skip-bad", "--json"])
        let summary = try #require(try jsonLines(fresh.out).first)
        #expect(summary["imported"] as? Int == 3 && summary["repeats"] as? Int == 1 && summary["skipped"] as? Int == 1, "\(summary)")
        let text = try await kiroku(["import", directory.sub("repeats-text"), repeats, "--skip-bad"])
        #expect(text.out.contains("Imported 3 events (1 repeats skipped, 0 already imported, 1 bad lines skipped)"), "\(text.out)")

        // Invalid UTF-8 in a key is refused with its line; a payload's bytes are kept.
        let bytes = directory.sub("bytes.jsonl")
        try (Data(#"{"key": "ok", "type": "T", "data": ""#.utf8) + Data([0xFE]) + Data("\"}\n".utf8)
             + Data(#"{"key": "k"#.utf8) + Data([0xFF]) + Data(#"", "type": "T"}"#.utf8)).write(to: URL(fileURLWithPath: bytes))
        let refused = try await kiroku(["import", directory.sub("bytes"), bytes])
        #expect(refused.status == 1 && refused.err.contains("Line 2") && refused.err.contains("not valid UTF-8"), "\(refused.err)")
        let log = try EventLog(path: directory.sub("bytes"))
        defer { log.close() }
        #expect(try log.readAll().map { Array($0.payload) } == [[0x22, 0xFE, 0x22]])
    }

    /// A view name is checked before anything is written (the first wave wrote `../../x`'s
    /// mapping outside the store, then hung); a view that fails ends `view create` and `search`
    /// at once with its error (they polled for an hour); views are 0700, mappings 0600.
    @Test func badViewNamesAndFailingViewsEndAtOnce() async throws {
        let directory = TemporaryDirectory("kiroku-cli")
        defer { directory.remove() }
        let store = directory.sub("nested/store")
        #expect(try await kiroku(["append", store, "--key", "a", "--type", "T", "--data", #"{"n": "lots"}"#]).status == 0)
        let mapping = directory.sub("mapping.json")
        try #"{"id": "key", "fields": {"n": {"path": "$.n", "type": "number"}}}"#.write(toFile: mapping, atomically: true, encoding: .utf8)
        for name in ["../../x", "Upper", "a/b", "", String(repeating: "v", count: 65)] {
            let refused = try await kiroku(["view", "create", store, name, "--mapping", mapping])
            #expect(refused.status == 1 && refused.err.contains("cannot name a projection or view"), "\(name): \(refused.err)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory.sub("x")) && !FileManager.default.fileExists(atPath: directory.sub("nested/x")))
        #expect(try await kiroku(["search", store, "../../x", "q"]).status == 1)
        // "lots" is not a number: the first build fails at position 1, and the command says so.
        let failed = try await kiroku(["view", "create", store, "numbers", "--mapping", mapping])
        #expect(failed.status == 1 && failed.err.contains("failed") && failed.err.contains("lots"), "\(failed.err)")
        let search = try await kiroku(["search", store, "numbers", "n:1"])
        #expect(search.status == 1 && search.err.contains("failed"), "\(search.err)")
        let attributes = try FileManager.default.attributesOfItem(atPath: store + "/views/numbers")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o700)
        let file = try FileManager.default.attributesOfItem(atPath: store + "/views/numbers/v1.json")
        #expect((file[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let projections = try FileManager.default.attributesOfItem(atPath: store + "/projections/numbers")
        #expect((projections[.posixPermissions] as? NSNumber)?.intValue == 0o700)
    }

    @Test func anImportKilledWithSIGKILLCompletesWhenRunAgain() async throws {
        let directory = TemporaryDirectory("kiroku-cli")
        defer { directory.remove() }
        let store = directory.sub("store")
        let file = directory.sub("big.jsonl")
        let count = 100_000
        try (0..<count).map { #"{"key": "k\#($0 % 100)", "type": "Imported", "data": {"n": \#($0)}}"# }.joined(separator: "\n")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let child = try launch(try helperExecutable("kiroku"), ["import", store, file, "--batch", "500"])
        // Kill it as soon as it has committed some batches.
        let started = await eventually(timeout: .seconds(60)) {
            FileManager.default.fileExists(atPath: store + "/data.mdb")
        }
        #expect(started)
        let log = try EventLog(path: store)
        let committed = try await eventually(timeout: .seconds(60)) { try log.headPosition() >= 1000 }
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        let atKill = try log.headPosition()
        log.close()
        #expect(committed)
        #expect(atKill < UInt64(count), "the import finished before the kill; the test did not test resuming")
        let resumed = try await kiroku(["import", store, file, "--json"])
        #expect(resumed.status == 0, "\(resumed.err)")
        let summary = try #require(try jsonLines(resumed.out).first)
        #expect(summary["head"] as? Int == count)
        #expect((summary["imported"] as? Int ?? 0) + (summary["alreadyImported"] as? Int ?? 0) == count)
        let records = try jsonLines(try await kiroku(["read", store, "--json", "--limit", "\(count + 10)"]).out)
        #expect(records.map { ($0["data"] as? [String: Any])?["n"] as? Int } == (0..<count).map { $0 })
    }

    @Test func tailSeesAppendsOfAnotherProcessAndCheckpointsItsConsumer() async throws {
        let directory = TemporaryDirectory("kiroku-cli")
        defer { directory.remove() }
        let store = directory.sub("store")
        _ = try await kiroku(["append", store, "--key", "a", "--type", "T", "--data", "1"])
        let process = Process()
        process.executableURL = try helperExecutable("kiroku")
        process.arguments = ["tail", store, "--json", "--consumer", "watcher", "--from", "1"]
        let output = Pipe()
        process.standardOutput = output
        let errors = directory.sub("tail.err")
        _ = FileManager.default.createFile(atPath: errors, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: errors)
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        // This process appends; the tail (another process) prints them as they commit.
        let log = try EventLog(path: store)
        for i in 2...5 { try await log.append(to: "a", EventData(type: "T", payload: Data("\(i)".utf8))) }
        // Read the pipe as data arrives (never a blocking read on the test's own task).
        let collected = Locked("")
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil } else { collected.withLock { $0 += String(decoding: data, as: UTF8.self) } }
        }
        let seen = await eventually(timeout: .seconds(60)) {
            collected.withLock { $0 }.split(separator: "\n").count >= 5
        }
        let text = collected.withLock { $0 }
        output.fileHandleForReading.readabilityHandler = nil
        #expect(seen, "tail printed: \(text); its errors: \((try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")")
        #expect(try jsonLines(text).prefix(5).map { $0["data"] as? Int } == [1, 2, 3, 4, 5])
        // SIGTERM (as Ctrl-C) stops it gracefully, after its checkpoint of what it printed.
        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)
        log.close()
        let consumers = try jsonLines(try await kiroku(["consumers", store, "--json"]).out)
        #expect(consumers.first?["name"] as? String == "watcher")
        #expect(consumers.first?["position"] as? Int == 5 && consumers.first?["lagRecords"] as? Int == 0)
        #expect(consumers.first?["status"] as? String == "ok")
    }

    @Test func viewsSearchProjectionsStatsAndVerify() async throws {
        let directory = TemporaryDirectory("kiroku-cli")
        defer { directory.remove() }
        let store = directory.sub("store")
        let events = [
            #"{"key": "a1", "type": "ActivityLogged", "data": {"text": "東京特許許可局に電話", "owner": "alice", "date": "2024-01-05"}}"#,
            #"{"key": "a2", "type": "ActivityLogged", "data": {"text": "京都の顧客を訪問", "owner": "bob", "date": "2024-02-05"}}"#,
            #"{"key": "a3", "type": "ActivityLogged", "data": {"text": "Tokyo tower meeting", "owner": "alice", "date": "2024-03-05"}}"#,
        ]
        _ = try await kiroku(["import", store, "-"], input: events.joined(separator: "\n"))
        let mapping = directory.sub("mapping.json")
        try #"{"types": ["ActivityLogged"], "id": "key", "fields": {"text": {"path": "$.text", "type": "text"}, "owner": {"path": "$.owner", "type": "keyword"}, "date": {"path": "$.date", "type": "date"}}}"#
            .write(toFile: mapping, atomically: true, encoding: .utf8)
        let created = try await kiroku(["view", "create", store, "activities", "--mapping", mapping, "--json"])
        #expect(created.status == 0, "\(created.err)")
        #expect(try jsonLines(created.out).first?["version"] as? Int == 1)

        // The search catches up with an append made after the view was built.
        _ = try await kiroku(["append", store, "--key", "a4", "--type", "ActivityLogged", "--data", #"{"text": "京セラを訪問", "owner": "carol", "date": "2024-04-05"}"#])
        let search = try await kiroku(["search", store, "activities", "京", "--facet", "owner", "--sort", "date:desc", "--limit", "2", "--json"])
        #expect(search.status == 0, "\(search.err)")
        let results = try #require(try jsonLines(search.out).first)
        #expect(results["total"] as? Int == 3)
        let hits = try #require(results["hits"] as? [[String: Any]])
        #expect(hits.map { $0["id"] as? String } == ["a4", "a2"])
        #expect(hits.first?["score"] is Double && hits.first?["fields"] is [String: Any] && hits.first?["snippet"] is String)
        let owners = (results["facets"] as? [String: Any])?["owner"] as? [[String: Any]]
        #expect(owners?.count == 3)
        let next = try #require(results["next"] as? String)
        let page2 = try jsonLines(try await kiroku(["search", store, "activities", "京", "--sort", "date:desc", "--after", next, "--json"]).out).first
        #expect((page2?["hits"] as? [[String: Any]])?.map { $0["id"] as? String } == ["a1"])
        #expect(page2?["next"] is NSNull)
        let syntax = try await kiroku(["search", store, "activities", "(東京"])
        #expect(syntax.status == 1 && syntax.err.contains("column"), "\(syntax.err)")
        let stale = try await kiroku(["search", store, "activities", "tokyo", "--stale-ok", "--json"])
        #expect(try jsonLines(stale.out).first?["total"] as? Int == 1)
        let notAView = try await kiroku(["search", store, "nope", "x"])
        #expect(notAView.status == 2)
        #expect(try await kiroku(["view", "list", store]).out.contains("activities"))

        // Rebuild blue/green, switch back, prune.
        let rebuilt = try await kiroku(["projections", store, "rebuild", "activities", "--json"])
        #expect(rebuilt.status == 0, "\(rebuilt.err)")
        #expect(try jsonLines(rebuilt.out).first?["version"] as? Int == 2)
        let status = try jsonLines(try await kiroku(["projections", store, "status", "--json"]).out)
        let views = status.filter { $0["name"] as? String == "activities" }
        #expect(views.map { $0["state"] as? String } == ["retired", "active"])
        #expect(views.last?["lag"] as? Int == 0)
        #expect(try await kiroku(["projections", store, "switch", "activities", "1"]).status == 0)
        #expect(try await kiroku(["projections", store, "prune", "activities", "1"]).status == 1)
        #expect(try await kiroku(["projections", store, "switch", "activities", "2"]).status == 0)
        #expect(try await kiroku(["projections", store, "prune", "activities", "1"]).status == 0)
        #expect(try await kiroku(["projections", store, "switch", "activities", "9"]).status == 2)
        let counts = try await kiroku(["projections", store, "rebuild", "event-counts", "--json"])
        #expect(counts.status == 0, "\(counts.err)")
        #expect(try jsonLines(counts.out).first?["version"] as? Int == 1)

        let stats = try #require(try jsonLines(try await kiroku(["stats", store, "--json"]).out).first)
        #expect(stats["records"] as? Int == 4 && stats["keys"] as? Int == 4 && stats["head"] as? Int == 4)
        #expect((stats["fileBytes"] as? Int ?? 0) > 0 && (stats["usedBytes"] as? Int ?? 0) > 0)
        #expect((stats["projections"] as? [[String: Any]])?.count == 2)
        let verify = try await kiroku(["verify", store, "--json"])
        #expect(verify.status == 0, "\(verify.out)")
        #expect(try jsonLines(verify.out).first?["clean"] as? Bool == true)
    }

    @Test func verifyExitsThreeWithThePositionsOfCorruptRecords() async throws {
        let directory = TemporaryDirectory("kiroku-cli")
        defer { directory.remove() }
        let store = directory.sub("store")
        for i in 0..<3 { _ = try await kiroku(["append", store, "--key", "k", "--type", "T", "--data", "\"marker-\(i)-zzzzzzzzzzzz\""]) }
        // Flip a byte inside the second record's payload (in every copy: LMDB's freed pages
        // keep older copies of the page).
        let path = store + "/data.mdb"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let needle = Array("marker-1-zzzz".utf8)
        let found = (0...(bytes.count - needle.count)).filter { bytes[$0..<$0 + needle.count].elementsEqual(needle) }
        #expect(!found.isEmpty)
        for at in found { bytes[at + 10] ^= 0x01 }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let verify = try await kiroku(["verify", store, "--json"])
        #expect(verify.status == 3)
        let report = try #require(try jsonLines(verify.out).first)
        #expect(report["clean"] as? Bool == false)
        #expect((report["problems"] as? [[String: Any]])?.contains { $0["position"] as? Int == 2 } == true, "\(verify.out)")
        let human = try await kiroku(["verify", store])
        #expect(human.status == 3 && human.out.contains("position 2"))
    }
}

@Suite(.timeLimit(.minutes(3))) struct CLIDemoAndBenchTests {
    @Test func demoLeavesAStoreToExploreAndReportsWhatItMeasured() async throws {
        let directory = TemporaryDirectory("kiroku-cli")
        defer { directory.remove() }
        let store = directory.sub("store")
        let demo = try await kiroku(["demo", store, "--events", "3000", "--concurrency", "8", "--json"])
        #expect(demo.status == 0, "\(demo.err)")
        let report = try #require(try jsonLines(demo.out).first)
        #expect(report["events"] as? Int == 3000 && (report["appendsPerSecond"] as? Double ?? 0) > 0)
        for name in ["appendLatencyMicros", "deliveryLatencyMicros", "searchableLatencyMicros"] {
            let summary = report[name] as? [String: Any]
            #expect((summary?["count"] as? Int ?? 0) > 0 && summary?["p99"] is Int, "\(name): \(String(describing: summary))")
        }
        let searches = try #require(report["searches"] as? [[String: Any]])
        #expect(searches.count == 3 && (searches[0]["total"] as? Int ?? 0) > 0)
        // The store stays: the other commands explore it.
        let found = try jsonLines(try await kiroku(["search", store, "activities", "見積", "--json"]).out).first
        #expect((found?["total"] as? Int ?? 0) > 0)
        #expect(try await kiroku(["verify", store]).status == 0)
        let people = try await kiroku(["demo", directory.sub("second"), "--events", "500", "--concurrency", "4"])
        #expect(people.status == 0 && people.out.contains("events/s") && people.out.contains("append to searchable"), "\(people.err)")
    }

    @Test func benchMeasuresAppendsFeedAndSearch() async throws {
        let append = try await kiroku(["bench", "append", "--duration", "1", "--concurrency", "8", "--json"])
        #expect(append.status == 0, "\(append.err)")
        let appended = try #require(try jsonLines(append.out).first)
        #expect((appended["appends"] as? Int ?? 0) > 0 && (appended["latencyMicros"] as? [String: Any])?["p999"] is Int)
        let feed = try await kiroku(["bench", "feed", "--rate", "500", "--duration", "1", "--lanes", "2", "--json"])
        #expect(feed.status == 0, "\(feed.err)")
        #expect(((try jsonLines(feed.out).first?["deliveryLatencyMicros"] as? [String: Any])?["count"] as? Int ?? 0) > 0)
        let search = try await kiroku(["bench", "search", "--documents", "2000", "--duration", "1", "--json"])
        #expect(search.status == 0, "\(search.err)")
        #expect((try jsonLines(search.out).first?["queries"] as? [[String: Any]])?.count == 10)
        #expect(try await kiroku(["bench", "append", "--duration", "0"]).status == 1)
        #expect(try await kiroku(["bench", "nothing"]).status == 1)
    }
}
