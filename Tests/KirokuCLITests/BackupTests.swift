import Foundation
import KirokuLog
import KirokuTestSupport
import Testing

/// `kiroku backup`: a consistent copy made while another process appends, which opens,
/// verifies clean and answers searches; `--compact`; a directory in use is refused.
@Suite(.timeLimit(.minutes(3))) struct BackupTests {
    @Test func aBackupMadeWhileAppendsGoOnOpensVerifiesAndSearches() async throws {
        let directory = TemporaryDirectory("kiroku-backup")
        defer { directory.remove() }
        let store = directory.sub("store")
        let lines = (0..<3000).map { #"{"key": "a\#($0 % 300)", "type": "ActivityLogged", "data": {"text": "見積 \#($0)", "owner": "o\#($0 % 7)"}}"# }
        #expect(try await kiroku(["import", store, "-"], input: lines.joined(separator: "\n")).status == 0)
        let mapping = directory.sub("mapping.json")
        try #"{"types": ["ActivityLogged"], "id": "key", "fields": {"text": {"path": "$.text", "type": "text"}, "owner": {"path": "$.owner", "type": "keyword"}}}"#
            .write(toFile: mapping, atomically: true, encoding: .utf8)
        #expect(try await kiroku(["view", "create", store, "activities", "--mapping", mapping]).status == 0)

        // This process appends (overwriting keys: pages are freed) while the backup runs in another.
        let log = try EventLog(path: store)
        let appending = Task {
            var i = 0
            while !Task.isCancelled {
                try await log.append(to: "a\(i % 300)", (0..<20).map { _ in EventData(type: "ActivityLogged", payload: Data(#"{"text": "訪問 \#(i)", "owner": "late"}"#.utf8)) })
                i += 1
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        let backup = directory.sub("backup")
        let made = try await kiroku(["backup", store, backup, "--json"])
        appending.cancel()
        _ = try? await appending.value
        #expect(made.status == 0, "\(made.err)")
        let summary = try #require(try jsonLines(made.out).first)
        let copied = try #require(summary["head"] as? Int)
        #expect(copied > 3000, "the backup began after appends had begun, so it holds some of them")
        // The copy's records are the store's first records, byte for byte.
        let source = try log.readAll(from: 1, limit: copied)
        log.close()
        let copy = try EventLog(path: backup)
        #expect(try copy.readAll(from: 1, limit: copied + 10) == source)
        copy.close()
        #expect(try await kiroku(["verify", backup]).status == 0)
        // Its view answers for every record of the copy (it catches up from its checkpoint).
        let search = try await kiroku(["search", backup, "activities", "owner:late OR 見積", "--json"])
        #expect(search.status == 0, "\(search.err)")
        let keys = Set(source.map(\.key))
        #expect(try jsonLines(search.out).first?["total"] as? Int == keys.count)

        // A compacting backup is no larger; stats says how much is free.
        let stats = try #require(try jsonLines(try await kiroku(["stats", store, "--json"]).out).first)
        #expect(stats["freeBytes"] is Int)
        let compacted = directory.sub("compacted")
        let small = try await kiroku(["backup", store, compacted, "--compact", "--json"])
        #expect(small.status == 0, "\(small.err)")
        let compactBytes = try #require(try jsonLines(small.out).first?["bytes"] as? Int)
        #expect(compactBytes <= (summary["bytes"] as? Int ?? 0) + 1_048_576 * 2)
        #expect(try await kiroku(["verify", compacted]).status == 0)

        // A directory that holds anything is refused; nothing is written into it.
        let refused = try await kiroku(["backup", store, backup])
        #expect(refused.status == 1 && refused.err.contains("is not empty"), "\(refused.err)")
        let file = directory.sub("a-file")
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        let onFile = try await kiroku(["backup", store, file])
        #expect(onFile.status == 1 && onFile.err.contains("is not empty (or is a file)"), "\(onFile.err)")
    }

    /// The library call refuses a directory that holds a store.
    @Test func theLibraryBackupRefusesADirectoryHoldingAStore() async throws {
        let directory = TemporaryDirectory("kiroku-backup")
        defer { directory.remove() }
        let log = try EventLog(path: directory.sub("store"))
        defer { log.close() }
        try await log.append(to: "k", EventData(type: "T"))
        try log.backup(to: directory.sub("copy"))
        let refused = await expectError(.backupTargetInUse) { try log.backup(to: directory.sub("copy")) }
        #expect(refused?.message.contains("holds a store") == true)
    }
}
