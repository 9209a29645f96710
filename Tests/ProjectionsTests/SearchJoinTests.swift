import Foundation
import KirokuFeed
import KirokuLog
import KirokuTestSupport
import Testing
@testable import KirokuProjections
@testable import KirokuSearch

/// Joins of two views against a brute-force join of the same documents: deals (view A) whose
/// activities (view B) match a query, with B's count and a metric per deal, `minCount`, a local
/// field instead of the id, ordering by the join across cursor pages, and deal ids equal as
/// Swift Strings but not as bytes. Prints its seed; replay with KIROKU_SEED.
@Suite(.timeLimit(.minutes(3))) struct SearchJoinTests {
    static let deals = """
    {"types": ["DealSaved"], "id": "key", "fields": {"stage": {"path": "$.stage", "type": "keyword"}, "owner": {"path": "$.owner", "type": "keyword"}}}
    """
    static let activities = """
    {"types": ["ActivityLogged"], "id": "event", "fields": {"deal": {"path": "$.deal", "type": "keyword"}, "owner": {"path": "$.owner", "type": "keyword"},
     "text": {"path": "$.text", "type": "text"}, "amount": {"path": "$.amount", "type": "number"}}}
    """
    static let dealIds = (0..<40).map { "deal-\($0)" } + ["café", "cafe\u{301}"]
    static let owners = ["alice", "bob", "carol"]
    static let words = ["見積", "訪問", "電話", "quote", "visit"]

    struct Deal { var stage: String; var owner: String }
    struct Activity { var deal: String; var owner: String; var text: String; var amount: Double? }

    @Test func joinsMatchABruteForceJoin() async throws {
        let seed = SeededGenerator.seed(label: "joinsMatchABruteForceJoin")
        var random = SeededGenerator(seed: seed)
        try await withLog(label: "kiroku-join") { log, _ async throws in
            let a = SearchView(name: "deals", mapping: try SearchMapping(json: Data(Self.deals.utf8)))
            let b = SearchView(name: "activities", mapping: try SearchMapping(json: Data(Self.activities.utf8)))
            let runner = ProjectionRunner(log: log, projections: [a, b], batchSize: 64)
            let running = Task { try await runner.run() }
            defer { running.cancel() }
            var deals: [[UInt8]: (String, Deal)] = [:]
            var activities: [Activity] = []
            for id in Self.dealIds where Int.random(in: 0..<8, using: &random) != 0 {
                let deal = Deal(stage: ["open", "won"].randomElement(using: &random)!, owner: Self.owners.randomElement(using: &random)!)
                try await log.append(to: id, jsonEvent("DealSaved", ["stage": deal.stage, "owner": deal.owner]))
                deals[Array(id.utf8)] = (id, deal)
            }
            for i in 0..<700 {
                // Some activities point at deals that do not exist.
                let activity = Activity(deal: (Self.dealIds + ["deal-404"]).randomElement(using: &random)!, owner: Self.owners.randomElement(using: &random)!,
                                        text: (0..<2).map { _ in Self.words.randomElement(using: &random)! }.joined(separator: " "),
                                        amount: Int.random(in: 0..<6, using: &random) == 0 ? nil : Double(Int.random(in: 1...1000, using: &random)))
                var fields: [String: Any] = ["deal": activity.deal, "owner": activity.owner, "text": activity.text]
                if let amount = activity.amount { fields["amount"] = amount }
                try await log.append(to: "activity-\(i)", jsonEvent("ActivityLogged", fields))
                activities.append(activity)
            }
            let head = try log.headPosition()
            for _ in 0..<60 {
                await Task.yield()  // the brute force is CPU-bound; let other tests' tasks run
                let word = Self.words.randomElement(using: &random)!
                let bQuery: (SearchQuery, (Activity) -> Bool) = Bool.random(using: &random)
                    ? (.match(field: "text", text: word), { $0.text.split(separator: " ").contains { $0 == word } })
                    : (.range(field: "amount", lower: .inclusive("500"), upper: nil), { ($0.amount ?? 0) >= 500 })
                let stage = ["open", "won", nil].randomElement(using: &random)!
                let aQuery: SearchQuery = stage.map { .match(field: "stage", text: $0) } ?? .all
                let minCount = Int.random(in: 0...3, using: &random)
                let local = Bool.random(using: &random) && Bool.random(using: &random)
                let metric: Aggregation = [.sum("amount"), .avg("amount"), .min("amount"), .max("amount")].randomElement(using: &random)!
                let join = SearchJoin(view: "activities", query: .built(bQuery.0), field: local ? "owner" : "deal", localField: local ? "owner" : nil,
                                      minCount: minCount, metric: metric, orderBy: [nil, .count, .metric].randomElement(using: &random)!,
                                      descending: Bool.random(using: &random))
                // Brute force.
                // By bytes: the two cafés are two deals (a String key would make them one).
                var expected: [[UInt8]: SearchJoinMatch] = [:]
                for (_, (id, deal)) in deals where stage == nil || deal.stage == stage {
                    let matched = activities.filter { bQuery.1($0) && (local ? $0.owner == deal.owner : Array($0.deal.utf8) == Array(id.utf8)) }
                    guard matched.count >= max(1, minCount) else { continue }
                    let amounts = matched.compactMap(\.amount)
                    var value: Double? = switch metric {
                    case .sum: amounts.reduce(0, +)
                    case .avg: amounts.reduce(0, +) / Double(max(1, amounts.count))
                    case .min: amounts.min()
                    default: amounts.max()
                    }
                    if amounts.isEmpty { value = nil }
                    expected[Array(id.utf8)] = SearchJoinMatch(count: matched.count, metric: value)
                }
                // Pages of 7 through the cursor, as one list.
                var hits: [SearchHit] = []
                var after: String?
                repeat {
                    let page = try await runner.searchJoined("deals", SearchRequest(query: .built(aQuery), limit: 7, after: after, snippets: false),
                                                             joining: join, atOrAfter: head, timeout: .seconds(30))
                    hits += page.hits
                    after = page.next
                } while after != nil && hits.count < 200
                let got = Set(hits.map { Array($0.id.utf8) })
                let want = Set(expected.keys)
                #expect(hits.count == expected.count && got == want, "seed \(seed): \(join) over \(aQuery): extra \(got.subtracting(want).map { String(decoding: $0, as: UTF8.self) }), missing \(want.subtracting(got).map { String(decoding: $0, as: UTF8.self) }), \(hits.count) hits")
                for (id, match) in expected {
                    let found = hits.first { Array($0.id.utf8) == id }?.join
                    #expect(found == match, "seed \(seed): deal \(id) of \(join): \(String(describing: found)) vs \(match)")
                }
                if let orderBy = join.orderBy {
                    let values = hits.map { orderBy == .count ? Double($0.join!.count) : $0.join!.metric ?? (join.descending ? -.infinity : .infinity) }
                    let ordered = zip(values, values.dropFirst()).allSatisfy { join.descending ? $0 >= $1 : $0 <= $1 }
                    #expect(ordered, "seed \(seed): ordered by \(orderBy), descending \(join.descending): \(values)")
                }
            }
            // Bad joins are invalid queries.
            for bad in [SearchJoin(view: "activities", query: "*", field: "amount"),
                        SearchJoin(view: "activities", query: .built(.all), field: "deal", metric: .terms("owner")),
                        SearchJoin(view: "activities", query: .built(.all), field: "deal", metric: .sum("owner")),
                        SearchJoin(view: "activities", query: .built(.all), field: "deal", localField: "missing"),
                        SearchJoin(view: "activities", query: .built(.all), field: "deal", minCount: -1)] {
                let error = await expectError(.invalidQuery) {
                    _ = try await runner.searchJoined("deals", SearchRequest(query: .built(.all)), joining: bad, atOrAfter: head)
                }
                #expect(error != nil, "\(bad)")
            }
            let sorted = await expectError(.invalidQuery) {
                _ = try await runner.searchJoined("deals", SearchRequest(query: .built(.all), sort: .init("stage")),
                                                  joining: SearchJoin(view: "activities", query: .built(.all), field: "deal", orderBy: .count), atOrAfter: head)
            }
            #expect(sorted?.message.contains("takes no sort") == true)
            running.cancel()
            _ = try? await running.value
        }
    }
}
