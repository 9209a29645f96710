import Foundation
import KirokuLog
import KirokuTestSupport
import Testing

/// `kiroku erase`, `delete` and `retention` as an operator runs them, against real processes.
@Suite(.timeLimit(.minutes(3))) struct LifecycleCLITests {
    @Test func eraseDeleteAndRetentionFromTheCommandLine() async throws {
        let directory = TemporaryDirectory("kiroku-lifecycle-cli")
        defer { directory.remove() }
        let store = directory.sub("store")
        var lines = (0..<200).map { #"{"key": "c\#($0 % 20)", "type": "ActivityLogged", "data": {"text": "public note \#($0)", "owner": "o\#($0 % 3)"}}"# }
        lines += (0..<30).map { #"{"key": "customer-7", "type": "ActivityLogged", "data": {"text": "qqzsecret address \#($0)", "owner": "qqzowner"}}"# }
        #expect(try await kiroku(["import", store, "-"], input: lines.joined(separator: "\n")).status == 0)
        let mapping = directory.sub("mapping.json")
        try #"{"types": ["ActivityLogged"], "id": "key", "fields": {"text": {"path": "$.text", "type": "text"}, "owner": {"path": "$.owner", "type": "keyword"}}}"#
            .write(toFile: mapping, atomically: true, encoding: .utf8)
        #expect(try await kiroku(["view", "create", store, "activities", "--mapping", mapping]).status == 0)
        #expect(try jsonLines(try await kiroku(["search", store, "activities", "qqzsecret", "--json"]).out).first?["total"] as? Int == 1)

        // Erase: the key's bytes leave every file; its documents leave the view.
        let erased = try await kiroku(["erase", store, "--key", "customer-7", "--json"])
        #expect(erased.status == 0, "\(erased.err)")
        let summary = try #require(try jsonLines(erased.out).first)
        #expect(summary["records"] as? Int == 30)
        #expect(summary["projections"] as? [String] == ["activities"])
        #expect(try jsonLines(try await kiroku(["search", store, "activities", "qqzsecret OR owner:qqzowner", "--json"]).out).first?["total"] as? Int == 0)
        for secret in ["qqzsecret", "qqzowner"] {
            #expect(dataFilesContaining(secret, under: store) == [], "\(secret) is still in a file")
        }
        #expect(try await kiroku(["verify", store]).status == 0)
        let read = try await kiroku(["read", store, "--key", "customer-7"])
        #expect(read.status == 0 && read.out.isEmpty)
        // The whole log shows the envelopes as erased and the marker as a deletion.
        let envelopes = try jsonLines(try await kiroku(["read", store, "--json", "--limit", "1000"]).out).filter { $0["key"] as? String == "customer-7" }
        #expect(envelopes.count == 31)
        #expect(envelopes.dropLast().allSatisfy { $0["erased"] as? Bool == true && $0["deletion"] == nil })
        #expect(envelopes.last?["deletion"] as? String == "soft" && envelopes.last?["type"] as? String == "$erased")

        // A hard delete: the next append is refused with what to do.
        #expect(try await kiroku(["delete", store, "--key", "c1", "--hard"]).status == 0)
        let refused = try await kiroku(["append", store, "--key", "c1", "--type", "Noted", "--data", "{}"])
        #expect(refused.status == 2 && refused.err.contains("deleted for good"), "\(refused.err)")
        // Truncation keeps the latest.
        #expect(try await kiroku(["delete", store, "--key", "c2", "--before", "100"]).status == 0)
        #expect(try await kiroku(["read", store, "--key", "c2", "--json"]).out.split(separator: "\n").count == 1)

        // Retention: a policy, enforced; stats shows where the log starts; a read below it says what to do.
        #expect(try await kiroku(["retention", store, "add", "--max-records", "50"]).status == 0)
        #expect(try await kiroku(["retention", store, "add", "--compact", "--prefix", "c1"]).status == 0)
        let shown = try await kiroku(["retention", store, "show"])
        #expect(shown.out.contains("max-records 50") && shown.out.contains("compact prefix \"c1\""), "\(shown.out)")
        let ran = try #require(try jsonLines(try await kiroku(["retention", store, "run", "--step", "17", "--json"]).out).first)
        #expect((ran["removed"] as? Int ?? 0) > 100 && (ran["steps"] as? Int ?? 0) > 5, "\(ran)")
        let stats = try #require(try jsonLines(try await kiroku(["stats", store, "--json"]).out).first)
        let first = try #require(stats["firstPosition"] as? Int)
        let through = try #require(stats["removedThrough"] as? Int)
        #expect(first > 1 && through > 0 && through < first, "\(stats)")
        let below = try await kiroku(["read", store, "--from", "2"])
        #expect(below.status == 2 && below.err.contains("retention removed records up to position"), "\(below.err)")
        #expect(try await kiroku(["read", store, "--json"]).out.split(separator: "\n").count == 50)
        #expect(try await kiroku(["verify", store]).status == 0)

        // Bad input says what to write.
        let bad = try await kiroku(["retention", store, "add", "--max-age", "forever"])
        #expect(bad.status == 1 && bad.err.contains("30d"), "\(bad.err)")
        let two = try await kiroku(["retention", store, "add", "--max-records", "5", "--compact"])
        #expect(two.status == 1 && two.err.contains("one rule"), "\(two.err)")
        let prefixed = try await kiroku(["retention", store, "add", "--max-bytes", "1G", "--prefix", "c"])
        #expect(prefixed.status == 1 && prefixed.err.contains("whole log"), "\(prefixed.err)")
    }

}

/// An export keeps deletion markers and erased records; an import restores them.
@Suite(.timeLimit(.minutes(3))) struct LifecycleExportTests {
    @Test func erasedRecordsAndDeletionsSurviveAnExportAndImport() async throws {
        let directory = TemporaryDirectory("kiroku-lifecycle-export")
        defer { directory.remove() }
        let store = directory.sub("store")
        do {
            let log = try EventLog(path: store)
            defer { log.close() }
            for i in 0..<6 {
                try await log.append(to: "erased-key", EventData(type: "Noted", payload: Data("secret \(i)".utf8), metadata: Data("m".utf8), id: "e\(i)"))
                try await log.append(to: "kept", event("Noted", "kept \(i)"))
            }
            _ = try await log.erase(key: "erased-key")
            try await log.append(to: "erased-key", event("Noted", "again"))
        }
        // Gapless (an erasure removes nothing): the positions hold, and the bytes are equal.
        let exported = directory.sub("export.jsonl")
        #expect(try await kiroku(["export", store, exported]).status == 0)
        let text = try String(contentsOfFile: exported, encoding: .utf8)
        #expect(text.contains(#""deletion":"soft""#) && text.contains(#""erased":true"#) && !text.contains("secret"))
        let copy = directory.sub("copy")
        let imported = try await kiroku(["import", copy, exported])
        #expect(imported.status == 0, "\(imported.err)")
        let a = try EventLog(path: store), b = try EventLog(path: copy)
        defer { a.close(); b.close() }
        // Equal but for the timestamps (an import stamps its own commits).
        func fields(_ log: EventLog) throws -> [String] {
            try log.readAll(from: 1, limit: 100).map { "\($0.position) \($0.key) v\($0.version) \($0.type) \($0.id ?? "-") \($0.payload.base64EncodedString()) \($0.metadata?.base64EncodedString() ?? "-") \($0.isErased) \($0.deletion?.rawValue ?? "-")" }
        }
        #expect(try fields(a) == fields(b))
        #expect(try b.readAll(from: 1, limit: 100).filter(\.isErased).count == 7)
        #expect(try b.read(key: "erased-key").map(\.payload) == [Data("again".utf8)])
        #expect(try b.verify().isClean)

        // A hard delete removes history (gaps): the export imports with --ignore-positions, and
        // the key is closed in the new store too.
        try await a.delete(key: "kept", mode: .hard)
        try await a.finishPendingRemovals()
        let second = directory.sub("second.jsonl")
        #expect(try await kiroku(["export", store, second]).status == 0)
        let gapped = try await kiroku(["import", directory.sub("third"), second])
        #expect(gapped.status == 1 && gapped.err.contains("--ignore-positions"), "\(gapped.err)")
        let renumbered = try await kiroku(["import", directory.sub("fourth"), second, "--ignore-positions"])
        #expect(renumbered.status == 0, "\(renumbered.err)")
        let fourth = try EventLog(path: directory.sub("fourth"))
        defer { fourth.close() }
        await expectError(.keyDeleted) { try await fourth.append(to: "kept", event()) }
        #expect(try fourth.read(key: "kept").isEmpty)
        #expect(try fourth.verify().isClean)
        // A line that claims to be erased but carries data is refused.
        let bad = try await kiroku(["import", directory.sub("fifth"), "-"], input: #"{"position":1,"key":"k","version":1,"type":"T","erased":true,"data":{"x":1}}"#)
        #expect(bad.status == 1 && bad.err.contains("no data and no metadata"), "\(bad.err)")
    }
}

/// Schema versions from the command line: `append --schema`, `read` shows them, and an export
/// and import keep them byte for byte (the stored form, never upcast).
@Suite(.timeLimit(.minutes(3))) struct SchemaVersionCLITests {
    @Test func schemaVersionsSurviveAnExportAndImport() async throws {
        let directory = TemporaryDirectory("kiroku-schema-cli")
        defer { directory.remove() }
        let store = directory.sub("store")
        #expect(try await kiroku(["append", store, "--key", "c-1", "--type", "CustomerMoved", "--data", #"{"zip":"1"}"#]).status == 0)
        #expect(try await kiroku(["append", store, "--key", "c-1", "--type", "CustomerMoved", "--data", #"{"postalCode":"1"}"#, "--schema", "2"]).status == 0)
        let read = try jsonLines(try await kiroku(["read", store, "--json"]).out)
        #expect(read.map { $0["schema"] as? Int } == [nil, 2])
        #expect(try await kiroku(["read", store]).out.contains("CustomerMoved (schema 2)"))
        let bad = try await kiroku(["append", store, "--key", "c-1", "--type", "T", "--schema", "0"])
        #expect(bad.status == 1 && bad.err.contains("1 to 65535"), "\(bad.err)")

        let exported = directory.sub("export.jsonl")
        #expect(try await kiroku(["export", store, exported]).status == 0)
        #expect(try String(contentsOfFile: exported, encoding: .utf8).contains(#""schema":2"#))
        let copy = directory.sub("copy")
        let imported = try await kiroku(["import", copy, exported])
        #expect(imported.status == 0, "\(imported.err)")
        let a = try EventLog(path: store), b = try EventLog(path: copy)
        defer { a.close(); b.close() }
        #expect(try b.readAllStored().map(\.schemaVersion) == [1, 2])
        #expect(try b.readAllStored().map(\.payload) == a.readAllStored().map(\.payload))
        let badLine = try await kiroku(["import", directory.sub("other"), "-"], input: #"{"key":"k","type":"T","schema":0}"#)
        #expect(badLine.status == 1 && badLine.err.contains("\"schema\" must be a whole number from 1 to 65535"), "\(badLine.err)")
    }
}

/// `kiroku read --since` and `--reverse`.
@Suite(.timeLimit(.minutes(3))) struct TimeReadCLITests {
    @Test func readSinceAnInstantAndNewestFirst() async throws {
        let directory = TemporaryDirectory("kiroku-read-since")
        defer { directory.remove() }
        let store = directory.sub("store")
        for i in 0..<4 {
            #expect(try await kiroku(["append", store, "--key", "k\(i % 2)", "--type", "T", "--data", "{\"n\":\(i)}"]).status == 0)
        }
        let all = try jsonLines(try await kiroku(["read", store, "--json"]).out)
        let third = try #require(all.dropFirst(2).first?["timestamp"] as? String)
        let since = try jsonLines(try await kiroku(["read", store, "--since", third, "--json"]).out)
        #expect(since.map { $0["position"] as? Int } == [3, 4])
        let newest = try jsonLines(try await kiroku(["read", store, "--reverse", "--limit", "3", "--json"]).out)
        #expect(newest.map { $0["position"] as? Int } == [4, 3, 2])
        let key = try jsonLines(try await kiroku(["read", store, "--key", "k1", "--reverse", "--json"]).out)
        #expect(key.map { $0["version"] as? Int } == [2, 1])
        let bad = try await kiroku(["read", store, "--since", "yesterday"])
        #expect(bad.status == 1 && bad.err.contains("ISO 8601"), "\(bad.err)")
    }
}
