import Foundation
import KirokuTestSupport
import KirokuLog
import PropertyBased
import Testing

/// A property test of `kiroku import`: random JSON Lines with identical repeats, ids reused
/// with other content, lines without ids, bad JSON, invalid UTF-8 in keys and ids (and in a
/// payload, where it is kept), lone surrogate escapes and blank lines, imported at two random
/// `--batch` sizes. Both runs must give the same store, the same summary and the same
/// reports, and both must equal a brute-force model of the rules in CLI.md; a second run of
/// the same file must add nothing.
///
/// A failure prints the lines (shrunk) and a seed: `@Test(.fixedSeed("…"))` replays it.
@Suite(.timeLimit(.minutes(5))) struct ImportPropertyTests {
    static let lines = Gen.int(in: 0...999).array(of: 6).array(of: 1...30)
    static let batches = [1, 2, 3, 7, 1000]

    @Test func anyBatchSizeGivesTheModelsStoreAndReport() async {
        await propertyCheck(count: 60, input: Self.lines, Gen.int(in: 0...24), Gen.bool) { specs, batchChoice, skipBad in
            try await Self.check(specs, batches: (Self.batches[batchChoice % 5], Self.batches[batchChoice / 5]), skipBad: skipBad)
        }
    }

    static func check(_ specs: [[Int]], batches: (Int, Int), skipBad: Bool) async throws {
        let directory = TemporaryDirectory("kiroku-import-property")
        defer { directory.remove() }
        let file = directory.sub("events.jsonl")
        let lines = ImportModel.lines(specs)
        try Data(lines.joined(separator: [0x0A])).write(to: URL(fileURLWithPath: file))
        let model = ImportModel.run(lines, skipBad: skipBad)
        let context = "batches \(batches), skip-bad \(skipBad), lines:\n" + lines.enumerated().map { "\($0 + 1): \(String(decoding: $1, as: UTF8.self))" }.joined(separator: "\n")

        var outcomes: [(status: Int32, out: String, err: String)] = []
        for (index, batch) in [batches.0, batches.1].enumerated() {
            let store = directory.sub("store-\(index)")
            var arguments = ["import", store, file, "--batch", "\(batch)", "--json"]
            if skipBad { arguments.append("--skip-bad") }
            let result = try await kiroku(arguments)
            outcomes.append(result)
            #expect(result.status == (model.stoppedAt == nil ? 0 : 1), "\(context)\n\(result.err)")
            if let line = model.stoppedAt {
                #expect(result.err.contains("Line \(line):"), "\(context)\n\(result.err)")
            } else {
                let summary = try #require(try jsonLines(result.out).first, "\(context)\n\(result.err)")
                #expect(summary["imported"] as? Int == model.records.count, "\(context)\n\(summary)")
                #expect(summary["repeats"] as? Int == model.repeats, "\(context)\n\(summary)")
                #expect(summary["skipped"] as? Int == model.skipped.count, "\(context)\n\(summary)")
                #expect(summary["alreadyImported"] as? Int == 0, "\(context)\n\(summary)")
                let reported = result.err.split(separator: "\n").compactMap { line in
                    line.hasPrefix("kiroku: skipped line ") ? Int(line.dropFirst(21).prefix { $0.isNumber }) : nil
                }
                #expect(reported == model.skipped, "\(context)\n\(result.err)")
            }
            let log = try EventLog(path: store)
            let stored = try log.readAll(limit: 10_000).map(ImportModel.Stored.init)
            log.close()
            #expect(stored == model.records, "\(context)")
        }
        #expect(outcomes[0].out == outcomes[1].out, "\(context)")
        #expect(outcomes[0].err == outcomes[1].err, "\(context)")
        // The same file again: every line is there already.
        guard model.stoppedAt == nil else { return }
        let again = try await kiroku(["import", directory.sub("store-0"), file, "--batch", "\(batches.1)", "--json", "--skip-bad"])
        let summary = try #require(try jsonLines(again.out).first, "\(context)\n\(again.err)")
        #expect(summary["imported"] as? Int == 0 && summary["alreadyImported"] as? Int == model.records.count + model.repeats, "\(context)\n\(summary)")
    }
}

/// The import rules, brute force: lines in order; a valid line with an id stored already is a
/// repeat when its key, type, data and metadata bytes are the same, and a bad line otherwise.
enum ImportModel {
    struct Stored: Equatable, CustomStringConvertible {
        var key: [UInt8], type: [UInt8], id: [UInt8], payload: [UInt8], metadata: [UInt8]?

        init(key: [UInt8], type: [UInt8], id: [UInt8], payload: [UInt8], metadata: [UInt8]?) {
            (self.key, self.type, self.id, self.payload, self.metadata) = (key, type, id, payload, metadata)
        }

        init(_ record: Record) {
            self.init(key: Array(record.key.utf8), type: Array(record.type.utf8), id: Array((record.id ?? "").utf8),
                      payload: Array(record.payload), metadata: record.metadata.map(Array.init))
        }

        var description: String { "\(String(decoding: key, as: UTF8.self))/\(String(decoding: id, as: UTF8.self))" }
    }

    static let keys = ["caf\u{E9}", "cafe\u{301}", "k", "鍵"]
    static let types = ["T", "\u{DC}", "U\u{308}"]
    static let ids = ["a", "b", "\u{E9}", "e\u{301}", #"q\"x"#]
    /// Data values as they stand in a line; two spell one JSON object differently.
    static let datas = [#"{"a":1,"b":2}"#, #"{"b":2,"a":1}"#, "[1, 2]", #""text""#, "null", #"{"s":"caf\u00e9"}"#, #"{ "x" : [ true , false ] }"#]
    static let metas: [String?] = [nil, nil, #"{"m":1}"#, "null"]

    /// What a generated line is.
    enum Line {
        case valid(key: String, type: String, id: String?, data: String?, metadata: String?)
        case bad
        case blank
    }

    /// The lines of a file, from the generator's integers.
    static func lines(_ specs: [[Int]]) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var valid: [[UInt8]] = []
        for spec in specs {
            let x = spec + Array(repeating: 0, count: max(0, 6 - spec.count))
            let line: [UInt8]
            switch x[0] % 12 {
            case 0...4, 6:
                let id = x[0] % 12 == 6 ? nil : ids[x[3] % ids.count]
                var text = #"{"key": "\#(keys[x[1] % keys.count])", "type": "\#(types[x[2] % types.count])""#
                if let id { text += #", "id": "\#(id)""# }
                text += #", "data": \#(datas[x[4] % datas.count])"#
                if let meta = metas[x[5] % metas.count] { text += #", "metadata": \#(meta)"# }
                line = Array((text + "}").utf8)
                valid.append(line)
            case 5:
                line = valid.isEmpty ? Array("   ".utf8) : valid[x[1] % valid.count]
            case 7:
                line = Array(#"{"key": "k", "type": "#.utf8)
            case 8:
                line = Array(#"{"key": "k"#.utf8) + [0xFF] + Array(#"", "type": "T"}"#.utf8)
            case 9:
                line = Array(#"{"key": "k", "type": "T", "id": "raw-\#(x[1] % 3)", "data": ""#.utf8) + [0xFE] + Array(#""}"#.utf8)
                valid.append(line)
            case 10:
                line = Array(#"{"key": "k", "type": "T", "id": "\ud800"}"#.utf8)
            default:
                line = Array(" \t".utf8)
            }
            lines.append(line)
        }
        return lines
    }

    struct Result {
        var records: [Stored] = []
        var repeats = 0
        var skipped: [Int] = []
        var stoppedAt: Int?
    }

    /// What the import must do with `lines`.
    static func run(_ lines: [[UInt8]], skipBad: Bool) -> Result {
        var result = Result()
        var byId: [[UInt8]: Stored] = [:]
        for (index, line) in lines.enumerated() {
            let number = index + 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            guard let stored = parse(line, number: number) else {
                if skipBad { result.skipped.append(number); continue }
                result.stoppedAt = number
                return result
            }
            if let earlier = byId[stored.id] {
                if earlier == stored { result.repeats += 1; continue }
                if skipBad { result.skipped.append(number); continue }
                result.stoppedAt = number
                return result
            }
            byId[stored.id] = stored
            result.records.append(stored)
        }
        return result
    }

    /// The event a line must give, or `nil` for a bad line (by construction of the generator).
    static func parse(_ line: [UInt8], number: Int) -> Stored? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
            // The one valid kind JSONSerialization refuses: a payload string with a raw 0xFE.
            guard let fe = line.firstIndex(of: 0xFE) else { return nil }
            let text = String(decoding: line[..<fe], as: UTF8.self)
            let id = text.components(separatedBy: #""id": ""#)[1].prefix { $0 != "\"" }
            return Stored(key: Array("k".utf8), type: Array("T".utf8), id: Array(id.utf8), payload: [0x22, 0xFE, 0x22], metadata: nil)
        }
        guard let key = object["key"] as? String, let type = object["type"] as? String else { return nil }
        // Lone surrogates come back as U+FFFD from JSONSerialization; the import refuses them.
        guard !line.contains(0xFF), !String(decoding: line, as: UTF8.self).contains(#"\ud800"#) else { return nil }
        let text = String(decoding: line, as: UTF8.self)
        let data = datas.first { text.contains(#""data": \#($0)"#) }
        let meta = metas.compactMap { $0 }.first { text.contains(#""metadata": \#($0)"#) }
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in line { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        let id = (object["id"] as? String) ?? "import:\(number):" + String(hash, radix: 16)
        return Stored(key: Array(key.utf8), type: Array(type.utf8), id: Array(id.utf8),
                      payload: data == "null" ? [] : Array((data ?? "").utf8),
                      metadata: meta == nil || meta == "null" ? nil : Array(meta!.utf8))
    }
}
