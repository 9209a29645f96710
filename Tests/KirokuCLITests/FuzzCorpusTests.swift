import Foundation
@_spi(Fuzzing) import KirokuCLI
@_spi(Fuzzing) import KirokuLog
@_spi(Fuzzing) import KirokuSearch
import Testing

/// Every input in the fuzz corpora under `Fuzz/Corpus/` (the seeds, and each crash a fuzzer
/// found, kept as a regression) replayed through the same entry points the libFuzzer
/// targets call: each must be handled without a trap.
@Suite struct FuzzCorpusTests {
    static let corpora = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz/Corpus")

    static func inputs(_ target: String) throws -> [(name: String, bytes: Data)] {
        let directory = corpora.appendingPathComponent(target)
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted().map {
            ($0, try Data(contentsOf: directory.appendingPathComponent($0)))
        }
    }

    @Test(arguments: ["record-decoder", "query-parser", "mapping-parser", "import-line"])
    func corpusReplays(_ target: String) throws {
        let inputs = try Self.inputs(target)
        #expect(!inputs.isEmpty, "no inputs in Fuzz/Corpus/\(target)")
        let entry: (UnsafeRawBufferPointer) -> Void = switch target {
        case "record-decoder": RecordFuzzing.decode
        case "query-parser": SearchFuzzing.parseQuery
        case "mapping-parser": SearchFuzzing.parseMapping
        default: ImportFuzzing.parseLine
        }
        for input in inputs {
            input.bytes.withUnsafeBytes { entry($0) }
        }
    }

    /// The record seeds are real records (their checksums aside): each decodes once its
    /// checksum is fixed, so the decoder's fuzzing starts from the parsing, not the checksum.
    @Test func recordSeedsDecode() throws {
        for input in try Self.inputs("record-decoder") where input.name.hasSuffix(".bin") {
            #expect(RecordFuzzing.decodesWithFixedChecksum(input.bytes), "\(input.name) does not decode")
        }
    }
}
