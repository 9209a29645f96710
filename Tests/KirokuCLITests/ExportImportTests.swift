import Foundation
import KirokuLog
import KirokuTestSupport
import Testing

/// `kiroku export` and `kiroku import` together: an export imported into an empty store gives
/// an equal store, byte for byte; filtered exports, resumes and lines out of place.
@Suite(.timeLimit(.minutes(5))) struct ExportImportTests {
    /// Every record of a store, without its timestamp (an import stamps its own commits).
    static func records(_ path: String) throws -> [[String]] {
        let log = try EventLog(path: path)
        defer { log.close() }
        var all: [[String]] = []
        var position: UInt64 = 1
        while true {
            let batch = try log.readAll(from: position, limit: 1000)
            guard let last = batch.last else { break }
            for record in batch {
                all.append(["\(record.position)", record.key.utf8.map { String($0) }.joined(separator: ","), "\(record.version)", record.type,
                            record.id.map { $0.utf8.map { String($0) }.joined(separator: ",") } ?? "<none>",
                            record.payload.base64EncodedString(), record.metadata.map { "m:" + $0.base64EncodedString() } ?? "<none>"])
            }
            position = last.position + 1
        }
        return all
    }

    /// A store whose records hold what a round trip could lose.
    static func awkwardStore(_ path: String) async throws {
        let log = try EventLog(path: path)
        defer { log.close() }
        let payloads: [Data] = [
            Data(#"{"a":1,"text":"é\u0000\"quoted\"","n":[1,2.5e3,-0]}"#.utf8),
            Data(#""a JSON string with \\ and \n escapes""#.utf8),
            Data([0xFF, 0x00, 0x0A, 0x7B]),            // not UTF-8, not JSON
            Data("null".utf8),                          // JSON null: a line's null means no bytes
            Data(),                                     // no bytes
            Data("{\n  \"pretty\": true\n}".utf8),      // JSON with line breaks
            Data(" 42".utf8),                           // JSON with a space before it
            Data("true".utf8),
        ]
        let metadata: [Data?] = [nil, Data(#"{"trace":"abc"}"#.utf8), Data(), Data([0x00, 0xFE])]
        let keys = ["café", "cafe\u{301}", "東京/顧客", "emoji 🙂", "quote\"back\\slash", "tab\tkey"]
        for i in 0..<64 {
            let event = EventData(type: i % 3 == 0 ? "Créé" : "Changed", payload: payloads[i % payloads.count],
                                  metadata: metadata[i % metadata.count], id: i % 4 == 0 ? nil : "id-\(i)-é\u{301}")
            try await log.append(to: keys[i % keys.count], event)
        }
    }

    @Test func anExportImportedIntoAnEmptyStoreGivesAnEqualStore() async throws {
        let directory = TemporaryDirectory("kiroku-export")
        defer { directory.remove() }
        let source = directory.sub("source"), copy = directory.sub("copy"), file = directory.sub("export.jsonl")
        try await Self.awkwardStore(source)
        let exported = try await kiroku(["export", source, file])
        #expect(exported.status == 0 && exported.out.contains("Exported 64 records"), "\(exported.err)")
        let imported = try await kiroku(["import", copy, file, "--json"])
        #expect(imported.status == 0, "\(imported.err)")
        #expect(try jsonLines(imported.out).first?["imported"] as? Int == 64)
        #expect(try Self.records(copy) == Self.records(source))
        // `kiroku read --json` of both agrees too, timestamps aside.
        func read(_ path: String) async throws -> [[String: Any]] {
            try jsonLines(try await kiroku(["read", path, "--json"]).out).map { $0.filter { $0.key != "timestamp" } }
        }
        let (a, b) = (try await read(source), try await read(copy))
        #expect(a.count == 64 && a.map { NSDictionary(dictionary: $0) } == b.map { NSDictionary(dictionary: $0) })
        // Bytes that are not one JSON value on one line travel as base64.
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
        #expect(lines.contains { $0.contains("\"dataBase64\"") } && lines.contains { $0.contains("\"metadataBase64\":\"\"") })
        // Export to standard output gives the same lines.
        let stdout = try await kiroku(["export", source])
        #expect(stdout.out.split(separator: "\n") == lines)
        // Importing it again resumes: everything is already there.
        let again = try await kiroku(["import", copy, file, "--json"])
        #expect(try jsonLines(again.out).first?["alreadyImported"] as? Int == 64, "\(again.err)")
        #expect(try Self.records(copy) == Self.records(source))
    }

    @Test func filteredExportsAndLinesOutOfPlace() async throws {
        let directory = TemporaryDirectory("kiroku-export")
        defer { directory.remove() }
        let source = directory.sub("source"), file = directory.sub("part.jsonl")
        try await Self.awkwardStore(source)
        // --prefix compares bytes: "café" (composed) and not "cafe\u{301}".
        let cafe = try jsonLines(try await kiroku(["export", source, "--prefix", "café"]).out)
        #expect(cafe.count == 11 && cafe.allSatisfy { ($0["key"] as? String).map { Array($0.utf8) == Array("café".utf8) } ?? false })
        let typed = try jsonLines(try await kiroku(["export", source, "--type", "Créé", "--from", "10", "--to", "40"]).out)
        // Type "Créé" is every third record from position 1.
        #expect(typed.map { $0["position"] as? Int } == Array(stride(from: 10, through: 40, by: 3)))
        _ = try await kiroku(["export", source, file, "--key", "東京/顧客", "--from", "5"])
        // Its positions have gaps: into an empty store it stops at the first line, and says why.
        let refused = try await kiroku(["import", directory.sub("empty"), file])
        #expect(refused.status == 1 && refused.err.contains("Line 1") && refused.err.contains("--ignore-positions"), "\(refused.err)")
        // With --ignore-positions its records are appended after the head, in order.
        let renumbered = directory.sub("renumbered")
        let accepted = try await kiroku(["import", renumbered, file, "--ignore-positions", "--json"])
        #expect(accepted.status == 0, "\(accepted.err)")
        let keys = try Self.records(renumbered).map { $0[1] }
        #expect(keys.count == 10 && Set(keys) == [Array("東京/顧客".utf8).map { String($0) }.joined(separator: ",")])
        // A whole export into a store that holds other records: refused at its first line.
        let other = directory.sub("other")
        _ = try await kiroku(["append", other, "--key", "x", "--type", "T", "--data", "1"])
        let whole = directory.sub("whole.jsonl")
        _ = try await kiroku(["export", source, whole])
        let mismatch = try await kiroku(["import", other, whole])
        #expect(mismatch.status == 1 && mismatch.err.contains("Line 1: position 1 holds another record"), "\(mismatch.err)")
        // With --skip-bad, a line of an export that fails is skipped, and so is every line
        // after it (their positions are out of reach then); nothing after it is stored.
        var exportLines = try String(contentsOfFile: whole, encoding: .utf8).split(separator: "\n").map(String.init)
        exportLines[4] = exportLines[4].replacingOccurrences(of: #""version":1,"#, with: #""version":99,"#)
        let broken = directory.sub("broken.jsonl")
        try exportLines.joined(separator: "\n").write(toFile: broken, atomically: true, encoding: .utf8)
        let partial = directory.sub("partial")
        let skipping = try await kiroku(["import", partial, broken, "--skip-bad", "--json"])
        #expect(skipping.status == 0, "\(skipping.err)")
        let counts = try #require(try jsonLines(skipping.out).first)
        #expect(counts["imported"] as? Int == 4 && counts["skipped"] as? Int == 60, "\(counts)")
        #expect(try Self.records(partial) == Array(try Self.records(source).prefix(4)))
        // A line whose version does not follow its key's: refused with the key's version.
        let versions = directory.sub("versions.jsonl")
        try #"{"position": 1, "key": "k", "version": 3, "type": "T", "data": 1}"#.write(toFile: versions, atomically: true, encoding: .utf8)
        let skipped = try await kiroku(["import", directory.sub("v"), versions])
        #expect(skipped.status == 1 && skipped.err.contains("Line 1") && skipped.err.contains("2"), "\(skipped.err)")
        // Fields that are not what an export writes.
        for (line, reason) in [(#"{"key":"k","type":"T","data":1,"dataBase64":"AA=="}"#, "not both"),
                               (#"{"key":"k","type":"T","dataBase64":"%%"}"#, "not valid base64"),
                               (#"{"key":"k","type":"T","position":0}"#, "whole number from 1"),
                               (#"{"key":"k","type":"T","version":-2}"#, "whole number from 1"),
                               (#"{"key":"k","type":"T","timestamp":5}"#, "must be a string")] {
            let bad = directory.sub("bad.jsonl")
            try line.write(toFile: bad, atomically: true, encoding: .utf8)
            let result = try await kiroku(["import", directory.sub("bad"), bad])
            #expect(result.status == 1 && result.err.contains(reason), "\(line): \(result.err)")
        }
        let backwards = try await kiroku(["export", source, "--from", "9", "--to", "3"])
        #expect(backwards.status == 1 && backwards.err.contains("--to (3) is before --from (9)"), "\(backwards.err)")
        let both = try await kiroku(["export", source, "--key", "a", "--prefix", "b"])
        #expect(both.status == 1 && both.err.contains("Give --key or --prefix, not both"), "\(both.err)")
        let unwritable = try await kiroku(["export", source, directory.sub("missing/dir/out.jsonl")])
        #expect(unwritable.status == 1 && unwritable.err.contains("Cannot write"), "\(unwritable.err)")
    }

    /// An import killed with SIGKILL at random points and run again each time ends equal to an
    /// uninterrupted import: for a file of plain lines (ids derived from the line) and for an
    /// export (positions), with no duplicate and no reordering.
    @Test func importsKilledAtRandomPointsEndEqualToAnUninterruptedOne() async throws {
        let seed = SeededGenerator.seed(label: "importsKilledAtRandomPointsEndEqualToAnUninterruptedOne")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory("kiroku-export")
        defer { directory.remove() }
        let plain = directory.sub("plain.jsonl")
        let count = 60_000
        try (0..<count).map { i in
            i % 7 == 0 ? #"{"key": "k\#(i % 500)", "type": "T", "data": {"n": \#(i)}}"#
                : #"{"key": "k\#(i % 500)", "type": "T", "id": "e\#(i)", "data": {"n": \#(i)}, "metadata": {"m": \#(i % 3)}}"#
        }.joined(separator: "\n").write(toFile: plain, atomically: true, encoding: .utf8)
        let whole = directory.sub("whole")
        #expect(try await kiroku(["import", whole, plain, "--batch", "700"]).status == 0)
        let exported = directory.sub("exported.jsonl")
        #expect(try await kiroku(["export", whole, exported]).status == 0)
        let expected = try Self.records(whole)
        for (name, file) in [("plain", plain), ("export", exported)] {
            let store = directory.sub("killed-\(name)")
            var kills = 0
            for _ in 0..<4 {
                let log = try? EventLog(path: store)
                let before = (try? log?.headPosition()) ?? 0
                log?.close()
                let child = try launch(try helperExecutable("kiroku"), ["import", store, file, "--batch", "\(Int.random(in: 100...2000, using: &random))"])
                let target = before + UInt64.random(in: 1_000...12_000, using: &random)
                _ = await eventually(timeout: .seconds(60)) {
                    guard FileManager.default.fileExists(atPath: store + "/data.mdb"), let log = try? EventLog(path: store) else { return false }
                    defer { log.close() }
                    return (try? log.headPosition()).map { $0 >= target } ?? false
                }
                kill(child.processIdentifier, SIGKILL)
                child.waitUntilExit()
                if child.terminationReason == .uncaughtSignal { kills += 1 }
            }
            let finished = try await kiroku(["import", store, file, "--json"])
            #expect(finished.status == 0, "seed \(seed), \(name): \(finished.err)")
            #expect(kills > 0, "seed \(seed), \(name): no import was killed before it finished")
            #expect(try Self.records(store) == expected, "seed \(seed), \(name): the store differs from an uninterrupted import")
        }
    }
}
