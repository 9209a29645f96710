import Foundation
@testable import KirokuCLI
import KirokuTestSupport
import Testing

/// `kiroku bench search --export` writes what scripts/bench-tantivy needs: every document of
/// the view with its analyzed terms, and every query kind with Kiroku's counts.
@Suite(.timeLimit(.minutes(3))) struct SearchBaselineExportTests {
    @Test func queryTermsAreTheViewsOwnMatchers() {
        #expect(SearchBenchQuery.terms("見積を送付") == ["見積", "積を", "を送", "送付"])
        #expect(SearchBenchQuery.terms("見積") == ["見積"])
        #expect(SearchBenchQuery.terms("Renewal") == ["renewal"])
        #expect(SearchBenchQuery.terms("send revised quote") == ["send", "revised", "quote"])
        #expect(SearchBenchQuery.kinds.count == 9 && SearchBenchQuery.kinds.allSatisfy { !$0.variants.isEmpty })
    }

    @Test func theExportHoldsEveryDocumentAndEveryKindsCounts() async throws {
        let directory = TemporaryDirectory("kiroku-bench-export")
        defer { directory.remove() }
        let result = try await runProcess(try helperExecutable("kiroku"), [
            "bench", "search", directory.sub("store"), "--documents", "3000", "--duration", "0.5", "--export", directory.sub("export"), "--json",
        ])
        #expect(result.status == 0, "\(result.err)")
        let lines = try String(contentsOfFile: directory.sub("export/documents.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3000)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(first["id"] is String && (first["tokens"] as? String)?.isEmpty == false && first["date"] is Double)
        let kinds = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory.sub("export/queries.json")))) as? [[String: Any]])
        #expect(kinds.count == 9)
        let totals = kinds.flatMap { ($0["variants"] as? [[String: Any]] ?? []).map { $0["total"] as? Int ?? -1 } }
        #expect(totals.allSatisfy { $0 >= 0 } && totals.contains { $0 > 0 }, "\(totals)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any])
        #expect((summary["queries"] as? [Any])?.count == 9 && (summary["viewBytes"] as? Int ?? 0) > 0)
    }
}
