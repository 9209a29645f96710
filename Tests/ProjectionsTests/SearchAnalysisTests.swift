import Foundation
import KirokuTestSupport
import KirokuLog
import Testing
@testable import KirokuProjections
@testable import KirokuSearch

@Suite struct AnalyzerTests {
    let analyzer = Analyzer()

    @Test func cjkRunsBecomeOverlappingBigramsPlusTheLastCharacter() {
        let tokens = analyzer.tokens("東京特許許可局")
        #expect(tokens.map(\.term) == ["東京", "京特", "特許", "許許", "許可", "可局", "局"])
        #expect(tokens.map(\.position) == [0, 1, 2, 3, 4, 5, 6])
    }

    @Test func aLoneCJKCharacterIsAUnigram() {
        #expect(analyzer.tokens("a 京 b").map(\.term) == ["a", "京", "b"])
    }

    @Test func fullWidthAndCaseFoldToTheSameTerms() {
        #expect(analyzer.tokens("ＡＢＣ Déjà-Vu").map(\.term) == ["abc", "déjà", "vu"])
        #expect(analyzer.normalize("ＡＢＣ１２３") == "abc123")
        // Half-width katakana with a voiced mark composes to the full-width letter.
        #expect(analyzer.tokens("ｶﾞｽ").map(\.term) == analyzer.tokens("ガス").map(\.term))
    }

    @Test func mixedScriptsSplitAtTheScriptBoundaryAndKeepAdjacentPositions() {
        let tokens = analyzer.tokens("東京でiPhone15を買った")
        #expect(tokens.map(\.term) == ["東京", "京で", "で", "iphone15", "を買", "買っ", "った", "た"])
        #expect(tokens.map(\.position) == [0, 1, 2, 3, 4, 5, 6, 7])
    }

    @Test func rangesPointAtTheOriginalCharacters() {
        let text = "Hello, 世界!"
        let tokens = analyzer.tokens(text)
        let scalars = Array(text.unicodeScalars)
        #expect(tokens.map { String(String.UnicodeScalarView(scalars[$0.range])) } == ["Hello", "世界", "界"])
        // A decomposed accent composes: both spellings give one term.
        #expect(analyzer.tokens("cafe\u{301}").map(\.term) == analyzer.tokens("caf\u{E9}").map(\.term))
    }
}

@Suite struct QueryParserTests {
    let fields = [SearchMapping.Field("text", .text), SearchMapping.Field("owner", .keyword),
                  SearchMapping.Field("amount", .number), SearchMapping.Field("date", .date)]

    func parse(_ text: String) throws -> SearchQuery { try QueryParser.parse(text, fields: fields) }

    @Test func termsAreAndedByDefault() throws {
        #expect(try parse("tokyo 東京") == .and([.match(field: nil, text: "tokyo"), .match(field: nil, text: "東京")]))
        #expect(try parse("") == .all)
        #expect(try parse("*") == .all)
    }

    @Test func operatorsPhrasesPrefixesFieldsAndRanges() throws {
        #expect(try parse("a OR b AND NOT c") == .or([.match(field: nil, text: "a"), .and([.match(field: nil, text: "b"), .not(.match(field: nil, text: "c"))])]))
        #expect(try parse("+a -b") == .and([.match(field: nil, text: "a"), .not(.match(field: nil, text: "b"))]))
        #expect(try parse("\"東京 特許\" pre*") == .and([.phrase(field: nil, text: "東京 特許"), .prefix(field: nil, prefix: "pre")]))
        #expect(try parse("owner:alice text:\"x y\"") == .and([.match(field: "owner", text: "alice"), .phrase(field: "text", text: "x y")]))
        #expect(try parse("amount:[10 TO 20}") == .range(field: "amount", lower: .inclusive("10"), upper: .exclusive("20")))
        #expect(try parse("date:{2024-01-01T00:00:00Z TO *]") == .range(field: "date", lower: .exclusive("2024-01-01T00:00:00Z"), upper: nil))
        #expect(try parse("amount:>=5") == .range(field: "amount", lower: .inclusive("5"), upper: nil))
        #expect(try parse("amount:<5") == .range(field: "amount", lower: nil, upper: .exclusive("5")))
        #expect(try parse("owner:(alice OR bob)") == .or([.match(field: "owner", text: "alice"), .match(field: "owner", text: "bob")]))
        #expect(try parse("(a OR b) c") == .and([.or([.match(field: nil, text: "a"), .match(field: nil, text: "b")]), .match(field: nil, text: "c")]))
    }

    @Test func syntaxErrorsNameTheColumnAndWhatWasExpected() async {
        let cases: [(String, String)] = [
            ("(a OR b", "column 8"),
            ("a AND", "column 6"),
            ("\"open phrase", "column 13"),
            ("amount:[1 20]", "'TO'"),
            ("amount:[1 TO 2", "']' or '}'"),
            ("nope:x", "unknown field 'nope'"),
            ("owner:", "a value"),
            ("a )", "column 3"),
            ("OR a", "column 1"),
        ]
        for (query, fragment) in cases {
            let error = await expectError(.querySyntax) { _ = try parse(query) }
            #expect(error?.message.contains(fragment) == true, "\(query): \(error?.message ?? "")")
        }
    }
}

@Suite struct MappingTests {
    @Test func datesParseFromISO8601AndEpochNumbers() {
        #expect(DateValue.parse("1970-01-02") == 86_400)
        #expect(DateValue.parse("2024-02-29T12:30:00Z") == 1_709_209_800)
        #expect(DateValue.parse("2024-02-29T21:30:00+09:00") == 1_709_209_800)
        #expect(DateValue.parse("2024-02-29T12:30:00.250Z") == 1_709_209_800.25)
        #expect(DateValue.parse("1709209800") == 1_709_209_800)
        #expect(DateValue.parse("1709209800000") == 1_709_209_800)
        #expect(DateValue.parse("2024-13-01") == nil)
        #expect(DateValue.parse("yesterday") == nil)
    }

    @Test func badMappingsSayWhatToFix() async {
        let cases: [(String, String)] = [
            ("not json", "not valid JSON"),
            ("[]", "JSON object"),
            ("{\"fields\": {}}", "\"fields\""),
            ("{\"fields\": {\"a\": {\"path\": \"$.a\", \"type\": \"blob\"}}}", "text, keyword, number or date"),
            ("{\"fields\": {\"a\": {\"path\": \"a\", \"type\": \"text\"}}}", "must start with $"),
            ("{\"fields\": {\"a\": {\"path\": \"@owner\", \"type\": \"text\"}}}", "record attribute"),
            ("{\"fields\": {\"a\": {\"path\": \"$.a\", \"type\": \"text\"}}, \"id\": 3}", "\"id\""),
            ("{\"fields\": {\"a b\": {\"path\": \"$.a\", \"type\": \"text\"}}}", "cannot name a search field"),
            ("{\"fields\": {\"a\": {\"path\": \"$.a\", \"type\": \"text\"}}, \"sort\": 1}", "Unknown key"),
            ("{\"fields\": {\"a\": {\"path\": \"$.a\", \"type\": \"text\"}}, \"types\": []}", "non-empty array"),
        ]
        for (json, fragment) in cases {
            let error = await expectError(.invalidMapping) { _ = try SearchMapping(json: Data(json.utf8)) }
            #expect(error?.message.contains(fragment) == true, "\(json): \(error?.message ?? "")")
        }
    }
}
