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
