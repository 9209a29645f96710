import Foundation
import KirokuTestSupport
import Testing

/// `kiroku search --agg` on the sample activities: the JSON carries each aggregation, the
/// buckets add up to the hits, a named chain nests, and a bad spec exits 1 saying what to write.
@Suite(.timeLimit(.minutes(3))) struct AggregationCLITests {
    static func root(_ file: String = #filePath) -> String {
        URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    @Test func searchWithAggregationsPrintsThemAsJSONAndAsText() async throws {
        let directory = TemporaryDirectory("kiroku-agg-cli")
        defer { directory.remove() }
        let store = directory.sub("store")
        let kiroku = try helperExecutable("kiroku")
        _ = try await run(kiroku, ["import", store, Self.root() + "/docs/examples/activities.jsonl"])
        _ = try await run(kiroku, ["view", "create", store, "activities", "--mapping", Self.root() + "/docs/examples/activities-mapping.json"])
        let json = try await run(kiroku, ["search", store, "activities", "見積", "--limit", "1", "--json",
                                          "--agg", "by_year=date_histogram(date, year, Asia/Tokyo) > terms(owner, 3) > sum(amount)",
                                          "--agg", "stats(amount)", "--agg", "count"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let total = try #require(object["total"] as? Int)
        let aggregations = try #require(object["aggregations"] as? [String: Any], "\(json)")
        #expect((aggregations["count"] as? [String: Any])?["value"] as? Int == total)
        #expect((aggregations["stats_amount"] as? [String: Any])?["count"] as? Int == total, "every sample activity has an amount")
        let years = try #require((aggregations["by_year"] as? [String: Any])?["buckets"] as? [[String: Any]])
        #expect(years.reduce(0) { $0 + ($1["count"] as? Int ?? 0) } == total)
        #expect(years.allSatisfy { ($0["key"] as? String)?.hasSuffix("T00:00:00+09:00") == true }, "\(years)")
        let firstYear = years.first?["aggregations"] as? [String: Any]
        let owners = try #require(firstYear?["terms_owner"] as? [String: Any])
        #expect((owners["buckets"] as? [[String: Any]])?.count == 3 && owners["other"] as? Int != nil, "\(owners)")

        let text = try await run(kiroku, ["search", store, "activities", "見積", "--limit", "1", "--agg", "histogram(amount, 100000)"])
        #expect(text.contains("histogram_amount:") && text.contains("100000"), "\(text)")
        let bad = try await runProcess(kiroku, ["search", store, "activities", "見積", "--agg", "terms(amount)"])
        #expect(bad.status == 1 && bad.err.contains("terms count keyword fields"), "\(bad.err)")
        let twice = try await runProcess(kiroku, ["search", store, "activities", "見積", "--agg", "count", "--agg", "count"])
        #expect(twice.status == 1 && twice.err.contains("given twice"), "\(twice.err)")

        // A join: customers (one document per customer) whose activities mention 見積, with
        // the count and the sum of amount per customer, as a terms aggregation counts them.
        let mapping = directory.sub("customers.json")
        try Data(#"{"types": ["ActivityLogged"], "id": "$.customer", "fields": {"customer": {"path": "$.customer", "type": "keyword"}}}"#.utf8).write(to: URL(fileURLWithPath: mapping))
        _ = try await run(kiroku, ["view", "create", store, "customers", "--mapping", mapping])
        let joined = try await run(kiroku, ["search", store, "customers", "*", "--limit", "100", "--json", "--join", "activities:customer",
                                            "--join-query", "見積", "--join-metric", "sum(amount)", "--join-order", "count"])
        let hits = try #require((try JSONSerialization.jsonObject(with: Data(joined.utf8)) as? [String: Any])?["hits"] as? [[String: Any]])
        let counts = hits.map { (($0["join"] as? [String: Any])?["count"] as? Int) ?? 0 }
        #expect(!counts.isEmpty && counts == counts.sorted(by: >), "\(counts)")
        let terms = try await run(kiroku, ["search", store, "activities", "見積", "--limit", "1", "--json", "--agg", "terms(customer, 100) > sum(amount)"])
        let buckets = (((try JSONSerialization.jsonObject(with: Data(terms.utf8)) as? [String: Any])?["aggregations"] as? [String: Any])?["terms_customer"] as? [String: Any])?["buckets"] as? [[String: Any]] ?? []
        let byCustomer = Dictionary(buckets.map { ($0["key"] as? String ?? "", ($0["count"] as? Int ?? 0, (($0["aggregations"] as? [String: Any])?["sum_amount"] as? [String: Any])?["value"] as? Double)) }, uniquingKeysWith: { a, _ in a })
        for hit in hits {
            let join = hit["join"] as? [String: Any]
            let want = byCustomer[hit["id"] as? String ?? ""]
            #expect(join?["count"] as? Int == want?.0 && join?["metric"] as? Double == want?.1, "\(hit) vs \(String(describing: want))")
        }
        #expect(hits.count == byCustomer.count)
        let badJoin = try await runProcess(kiroku, ["search", store, "customers", "*", "--join", "activities"])
        #expect(badJoin.status == 1 && badJoin.err.contains("VIEW:FIELD"), "\(badJoin.err)")
        let stray = try await runProcess(kiroku, ["search", store, "customers", "*", "--join-min", "2"])
        #expect(stray.status == 1 && stray.err.contains("go with --join"), "\(stray.err)")
    }
}
