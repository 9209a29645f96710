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
        #expect(SearchBenchQuery.kinds.count == 10 && SearchBenchQuery.kinds.allSatisfy { !$0.variants.isEmpty })
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
        #expect(kinds.count == 10)
        let totals = kinds.flatMap { ($0["variants"] as? [[String: Any]] ?? []).map { $0["total"] as? Int ?? -1 } }
        #expect(totals.allSatisfy { $0 >= 0 } && totals.contains { $0 > 0 }, "\(totals)")
        // The aggregation kind's buckets (what Tantivy's must equal) agree with a brute force
        // over the exported documents: the phrase's terms adjacent in a document's terms.
        let documents = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        let aggregated = kinds.flatMap { $0["variants"] as? [[String: Any]] ?? [] }.filter { $0["ownerSums"] != nil }
        #expect(aggregated.count == 2)
        for variant in aggregated {
            let phrase = try #require(variant["terms"] as? [String])
            let hits = documents.filter { document in
                let terms = (document["tokens"] as? String ?? "").split(separator: " ").map(String.init)
                return terms.count >= phrase.count && (0...(terms.count - phrase.count)).contains { Array(terms[$0..<$0 + phrase.count]) == phrase }
            }
            #expect(variant["total"] as? Int == hits.count && hits.count > 0, "\(phrase)")
            var byOwner: [String: (count: Int, sum: Double)] = [:]
            for hit in hits {
                guard let owner = hit["owner"] as? String else { continue }
                byOwner[owner, default: (0, 0)].count += 1
                byOwner[owner, default: (0, 0)].sum += hit["amount"] as? Double ?? 0
            }
            let expected = byOwner.sorted { $0.value.count != $1.value.count ? $0.value.count > $1.value.count : Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
                .prefix(10).map { "\($0.key) \($0.value.count) \($0.value.sum)" }
            let exported = (variant["ownerSums"] as? [[String: Any]] ?? []).map { "\($0["key"] as? String ?? "?") \($0["count"] as? Int ?? -1) \($0["sum"] as? Double ?? -1)" }
            #expect(exported == expected, "\(phrase)")
        }
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any])
        #expect((summary["queries"] as? [Any])?.count == 10 && (summary["viewBytes"] as? Int ?? 0) > 0)
    }
}
