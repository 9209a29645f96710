import Foundation
import KirokuFeed
import KirokuLog
import KirokuTestSupport
import Testing
@testable import KirokuProjections
@testable import KirokuSearch

/// Aggregations against a brute-force computation over the same documents: every kind, exact
/// counts and sums, calendar buckets in time zones with a daylight-saving change (documents at
/// the very instants buckets begin), overlapping ranges, nested sub-aggregations; and kana
/// folding against a brute-force substring scan. Prints its seed; replay with KIROKU_SEED.
@Suite(.timeLimit(.minutes(3))) struct SearchAggregationTests {
    static let mapping = """
    {"types": ["Saved"], "id": "key", "deleteOn": ["Deleted"],
     "fields": {"owner": {"path": "$.owner", "type": "keyword"}, "tags": {"path": "$.tags[*]", "type": "keyword"},
                "amount": {"path": "$.amount", "type": "number"}, "date": {"path": "$.date", "type": "date"},
                "text": {"path": "$.text", "type": "text"}}}
    """
    static let owners = ["alice", "bob", "carol", "dave", "eve", "café", "cafe\u{301}"]
    static let tags = ["x", "y", "z", "w"]
    static let zones = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Tokyo"]

    struct Doc {
        var owner: String?
        var tags: [String]
        var amount: Double?
        var date: Double?
    }

    /// Instants where buckets begin or daylight saving changes: local midnights around the
    /// 2024 changes in New York (March 10, November 3) and Berlin (March 31, October 27), the
    /// first of a month in Tokyo, a Monday, and a second either side of each.
    static let edges: [Double] = {
        var edges: [Double] = []
        for (zone, days) in [("America/New_York", ["2024-03-10", "2024-03-11", "2024-11-03", "2024-11-04", "2024-03-01"]),
                             ("Europe/Berlin", ["2024-03-31", "2024-04-01", "2024-10-27", "2024-10-28"]),
                             ("Asia/Tokyo", ["2024-02-01", "2024-06-03"]), ("UTC", ["2024-07-01", "2024-01-01"])] {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: zone)!
            for day in days {
                let parts = day.split(separator: "-").map { Int($0)! }
                let midnight = calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2]))!.timeIntervalSince1970
                edges += [midnight - 1, midnight, midnight + 1]
            }
        }
        return edges
    }()

    func randomDoc(_ random: inout SeededGenerator) -> Doc {
        let first = 1_704_067_200.0 // 2024-01-01T00:00:00Z
        let date: Double? = switch Int.random(in: 0..<10, using: &random) {
        case 0: nil
        case 1...3: Self.edges.randomElement(using: &random)!
        default: first + Double(Int.random(in: 0..<(366 * 86_400), using: &random))
        }
        let amount: Double? = switch Int.random(in: 0..<10, using: &random) {
        case 0: nil
        case 1: Double(Int.random(in: -500...500, using: &random)) + 0.5
        default: Double(Int.random(in: 0...1_000, using: &random))
        }
        return Doc(owner: Int.random(in: 0..<12, using: &random) == 0 ? nil : Self.owners.randomElement(using: &random)!,
                   tags: (0..<Int.random(in: 0...3, using: &random)).map { _ in Self.tags.randomElement(using: &random)! },
                   amount: amount, date: date)
    }

    func randomQuery(_ random: inout SeededGenerator) -> (SearchQuery, (Doc) -> Bool) {
        switch Int.random(in: 0..<5, using: &random) {
        case 0: return (.all, { _ in true })
        case 1:
            let owner = Self.owners.randomElement(using: &random)!
            return (.match(field: "owner", text: owner), { $0.owner.map { Array($0.utf8) == Array(owner.utf8) } ?? false })
        case 2:
            let tag = Self.tags.randomElement(using: &random)!
            return (.match(field: "tags", text: tag), { $0.tags.contains(tag) })
        case 3:
            let low = Int.random(in: 0...600, using: &random)
            return (.range(field: "amount", lower: .init("\(low)", inclusive: true), upper: nil), { ($0.amount ?? -.infinity) >= Double(low) })
        default:
            let tag = Self.tags.randomElement(using: &random)!
            return (.not(.match(field: "tags", text: tag)), { !$0.tags.contains(tag) })
        }
    }

    // MARK: Brute force

    static func metric(_ values: [Double]) -> AggregationStats {
        AggregationStats(count: values.count, sum: values.reduce(0, +), min: values.min(), max: values.max(),
                         avg: values.isEmpty ? nil : values.reduce(0, +) / Double(values.count))
    }

    /// The local start of the calendar bucket holding `seconds`, by Foundation's own interval
    /// lookup (the code under test walks the boundaries instead).
    static func bucketStart(_ seconds: Double, _ interval: Aggregation.CalendarInterval, _ calendar: Calendar) -> Double {
        let date = Date(timeIntervalSince1970: seconds)
        let component: Calendar.Component = switch interval {
        case .day: .day
        case .week: .weekOfYear
        case .month: .month
        case .year: .year
        }
        return calendar.dateInterval(of: component, for: date)!.start.timeIntervalSince1970
    }

    func expected(_ aggregation: Aggregation, _ docs: [Doc]) -> AggregationResult {
        switch aggregation {
        case .count: return .value(Double(docs.count), text: nil)
        case .sum: return .value(Self.metric(docs.compactMap(\.amount)).sum, text: nil)
        case .avg: return .value(Self.metric(docs.compactMap(\.amount)).avg, text: nil)
        case .min("date"): return .value(docs.compactMap(\.date).min(), text: docs.compactMap(\.date).min().map(DateValue.format))
        case .max("date"): return .value(docs.compactMap(\.date).max(), text: docs.compactMap(\.date).max().map(DateValue.format))
        case .min: return .value(docs.compactMap(\.amount).min(), text: nil)
        case .max: return .value(docs.compactMap(\.amount).max(), text: nil)
        case .stats: return .stats(Self.metric(docs.compactMap(\.amount)))
        case .terms(let field, let size, let sub):
            var members: [[UInt8]: [Doc]] = [:]
            for doc in docs {
                let values = field == "owner" ? doc.owner.map { [$0] } ?? [] : doc.tags
                for value in Set(values.map { Array($0.utf8) }) { members[value, default: []].append(doc) }
            }
            let ordered = members.sorted { $0.value.count != $1.value.count ? $0.value.count > $1.value.count : $0.key.lexicographicallyPrecedes($1.key) }
            return .buckets(ordered.prefix(size).map { key, members in
                AggregationBucket(key: String(decoding: key, as: UTF8.self), count: members.count,
                                  aggregations: sub.mapValues { expected($0, members) })
            }, other: ordered.dropFirst(size).reduce(0) { $0 + $1.value.count })
        case .histogram(_, let interval, let sub):
            let keyed = docs.compactMap { doc in doc.amount.map { ((($0 / interval).rounded(.down)), doc) } }
            guard let low = keyed.map(\.0).min(), let high = keyed.map(\.0).max() else { return .buckets([], other: nil) }
            return .buckets(stride(from: low, through: high, by: 1).map { n in
                let members = keyed.filter { $0.0 == n }.map(\.1)
                return AggregationBucket(key: AggregationExecution.number(n * interval), from: n * interval, to: n * interval + interval,
                                         count: members.count, aggregations: sub.mapValues { expected($0, members) })
            }, other: nil)
        case .dateHistogram(_, let interval, let zone, let sub):
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = zone
            calendar.firstWeekday = 2
            calendar.minimumDaysInFirstWeek = 4
            let keyed = docs.compactMap { doc in doc.date.map { (Self.bucketStart($0, interval, calendar), doc) } }
            guard let low = keyed.map(\.0).min(), let high = keyed.map(\.0).max() else { return .buckets([], other: nil) }
            var starts = [low]
            while starts.last! < high {
                // The next bucket starts where the interval holding this one ends.
                let component: Calendar.Component = switch interval { case .day: .day; case .week: .weekOfYear; case .month: .month; case .year: .year }
                starts.append(calendar.dateInterval(of: component, for: Date(timeIntervalSince1970: starts.last!))!.end.timeIntervalSince1970)
            }
            let next = { (start: Double) -> Double in
                let component: Calendar.Component = switch interval { case .day: .day; case .week: .weekOfYear; case .month: .month; case .year: .year }
                return calendar.dateInterval(of: component, for: Date(timeIntervalSince1970: start))!.end.timeIntervalSince1970
            }
            let bounds = CalendarBuckets(starts: starts + [next(starts.last!)], timeZone: zone)
            return .buckets(starts.indices.map { i in
                let members = keyed.filter { $0.0 == starts[i] }.map(\.1)
                return AggregationBucket(key: bounds.label(i), from: starts[i], to: bounds.starts[i + 1], count: members.count,
                                         aggregations: sub.mapValues { expected($0, members) })
            }, other: nil)
        case .range(_, let ranges, let sub):
            return .buckets(ranges.map { range in
                let members = docs.filter { doc in
                    guard let value = doc.amount else { return false }
                    return (range.from.map { value >= $0 } ?? true) && (range.to.map { value < $0 } ?? true)
                }
                func bound(_ value: Double?) -> String { value.map(AggregationExecution.number) ?? "*" }
                return AggregationBucket(key: "\(bound(range.from))-\(bound(range.to))", from: range.from, to: range.to,
                                         count: members.count, aggregations: sub.mapValues { expected($0, members) })
            }, other: nil)
        }
    }

    func randomAggregation(_ random: inout SeededGenerator) -> Aggregation {
        let zone = TimeZone(identifier: Self.zones.randomElement(using: &random)!)!
        func randomMetric() -> Aggregation {
            [.count, .sum("amount"), .avg("amount"), .min("amount"), .max("amount"), .stats("amount"), .min("date"), .max("date")]
                .randomElement(using: &random)!
        }
        let metric = randomMetric()
        // Up to three sub-aggregations: metrics on one or two fields (one is read in the
        // buckets' own pass, the other over their hits), or a level of buckets.
        var inner: [String: Aggregation] = [:]
        for n in 0..<Int.random(in: 0...3, using: &random) {
            inner["m\(n)"] = n == 2 && Bool.random(using: &random) ? .histogram("amount", interval: 100) : randomMetric()
        }
        switch Int.random(in: 0..<7, using: &random) {
        case 0: return metric
        case 1: return .terms(["owner", "tags"].randomElement(using: &random)!, size: Int.random(in: 1...6, using: &random), sub: inner)
        case 2: return .histogram("amount", interval: [50, 100, 250.5].randomElement(using: &random)!, sub: inner)
        case 3: return .range("amount", [AggregationRange(to: 200), AggregationRange(from: 200, to: 500), AggregationRange(from: 450), AggregationRange(from: -10.5, to: 0.5)], sub: inner)
        case 4:
            // Two levels of buckets under one: per month, per owner, the sum of amount.
            return .dateHistogram("date", .month, timeZone: zone, sub: ["owners": .terms("owner", size: 3, sub: ["total": .sum("amount")])])
        default:
            return .dateHistogram("date", Aggregation.CalendarInterval.allCases.randomElement(using: &random)!, timeZone: zone, sub: inner)
        }
    }

    @Test func aggregationsMatchABruteForceComputation() async throws {
        let seed = SeededGenerator.seed(label: "aggregationsMatchABruteForceComputation")
        var random = SeededGenerator(seed: seed)
        try await withSearchView(mapping: Self.mapping, batchSize: 50) { view in
            var docs: [String: Doc] = [:]
            // More documents than one block of doc values (512), some replaced.
            for _ in 0..<900 {
                let key = "d\(Int.random(in: 0..<800, using: &random))"
                let doc = randomDoc(&random)
                var fields: [String: Any] = ["tags": doc.tags]
                if let owner = doc.owner { fields["owner"] = owner }
                if let amount = doc.amount { fields["amount"] = amount }
                if let date = doc.date { fields["date"] = date }
                // A whole replacement: a document holds only what its last record says.
                if docs[key] != nil { try await view.log.append(to: key, jsonEvent("Deleted", [:])) }
                try await view.log.append(to: key, jsonEvent("Saved", fields))
                docs[key] = doc
            }
            for _ in 0..<120 {
                let (query, matches) = randomQuery(&random)
                var aggregations: [String: Aggregation] = [:]
                for i in 0..<Int.random(in: 1...3, using: &random) { aggregations["a\(i)"] = randomAggregation(&random) }
                let results = try await view.search(SearchRequest(query: .built(query), limit: 1, snippets: false, aggregations: aggregations))
                let hits = docs.values.filter(matches)
                #expect(results.total == hits.count, "seed \(seed): \(query)")
                for (name, aggregation) in aggregations {
                    let want = expected(aggregation, hits)
                    #expect(results.aggregations[name] == want, "seed \(seed): \(aggregation) over \(query)\n got \(String(describing: results.aggregations[name]))\nwant \(want)")
                }
            }
        }
    }

    /// The text form parses to the same aggregations, and bad specs say what to write.
    @Test func theTextFormParsesAndBadSpecsSayWhatToWrite() throws {
        let tokyo = TimeZone(identifier: "Asia/Tokyo")!
        let parsed = try AggregationParser.parse("by_month=date_histogram(date, month, Asia/Tokyo) > terms(owner, 5) > sum(amount), avg(amount)")
        #expect(parsed.name == "by_month")
        #expect(parsed.aggregation == .dateHistogram("date", .month, timeZone: tokyo, sub: [
            "terms_owner": .terms("owner", size: 5, sub: ["sum_amount": .sum("amount"), "avg_amount": .avg("amount")]),
        ]))
        #expect(try AggregationParser.parse("count") == ("count", .count))
        #expect(try AggregationParser.parse("range(amount, *..100, 100..*)").aggregation == .range("amount", [AggregationRange(to: 100), AggregationRange(from: 100)]))
        #expect(try AggregationParser.parse("histogram(amount, 250)").aggregation == .histogram("amount", interval: 250))
        for bad in ["", "sum()", "sum(a, b)", "terms(owner, 0)", "median(amount)", "date_histogram(date, fortnight)",
                    "date_histogram(date, day, Mars/Olympus)", "histogram(amount, -1)", "sum(amount) > terms(owner)",
                    "terms(owner) > sum(amount), terms(tags) > count", "range(amount, 1-2)", "terms(owner", "x y=count", "sum(amount), avg(amount)"] {
            #expect(throws: KirokuError.self, "\(bad)") { try AggregationParser.parse(bad) }
        }
    }

    /// Aggregations on the wrong field types, too many buckets or too deep are `invalid-query`.
    @Test func badAggregationsAreInvalidQueries() async throws {
        try await withSearchView(mapping: Self.mapping) { view in
            try await view.log.append(to: "a", jsonEvent("Saved", ["owner": "alice", "amount": 1, "date": "2024-01-01T00:00:00Z", "text": "x"]))
            try await view.log.append(to: "b", jsonEvent("Saved", ["owner": "bob", "amount": 1e12, "date": "1900-01-01T00:00:00Z", "text": "y"]))
            for bad: Aggregation in [.sum("owner"), .terms("amount"), .terms("text"), .histogram("date", interval: 1),
                                     .dateHistogram("amount", .day), .histogram("amount", interval: 1), .dateHistogram("date", .day),
                                     .sum("missing"), .terms("owner", size: 0),
                                     .terms("owner", sub: ["b": .terms("owner", sub: ["c": .terms("owner", sub: ["d": .terms("owner", sub: ["e": .count])])])])] {
                let error = await expectError(.invalidQuery) {
                    _ = try await view.search(SearchRequest(query: .built(.all), aggregations: ["x": bad]))
                }
                #expect(error != nil, "\(bad)")
            }
        }
    }

    // MARK: Kana folding

    static let kana = ["カタカナ", "かたかな", "ｶﾀｶﾅ", "ガス", "がす", "ｶﾞｽ", "ヴァイオリン", "ゔぁいおりん", "ラーメン", "らーめん", "東京", "ヽ", "ゝ", "見積", "みつもり", "ミツモリ"]

    @Test func kanaFoldingFindsEitherScriptLikeASubstringScanOfFoldedText() async throws {
        let seed = SeededGenerator.seed(label: "kanaFoldingFindsEitherScript")
        var random = SeededGenerator(seed: seed)
        let folding = Analyzer(foldKana: true)
        #expect(folding.tokens("カタカナ").map(\.term) == folding.tokens("かたかな").map(\.term))
        #expect(folding.tokens("ｶﾞｽ").map(\.term) == ["がす", "す"])
        #expect(Analyzer().tokens("カタカナ").map(\.term) != Analyzer().tokens("かたかな").map(\.term))
        let mapping = """
        {"types": ["Saved"], "id": "key", "fields": {"folded": {"path": "$.text", "type": "text", "foldKana": true},
                                                     "plain": {"path": "$.text", "type": "text"}}}
        """
        try await withSearchView(mapping: mapping) { view in
            var texts: [String: String] = [:]
            for i in 0..<150 {
                let text = (0..<Int.random(in: 1...4, using: &random)).map { _ in Self.kana.randomElement(using: &random)! }.joined(separator: "、")
                try await view.log.append(to: "d\(i)", jsonEvent("Saved", ["text": text]))
                texts["d\(i)"] = text
            }
            for query in Self.kana {
                for (field, analyzer) in [("folded", folding), ("plain", Analyzer())] {
                    let wanted = analyzer.normalize(query)
                    let expected = Set(texts.filter { analyzer.normalize($0.value).contains(wanted) }.keys)
                    let results = try await view.search(SearchRequest(query: .built(.match(field: field, text: query)), limit: 1000, snippets: false))
                    #expect(Set(results.hits.map(\.id)) == expected, "seed \(seed): \(field):\(query)")
                }
            }
            // The point of it: a hiragana query finds katakana (and half-width) text.
            let found = try await view.search(SearchRequest(query: .built(.match(field: "folded", text: "がす")), limit: 1000))
            #expect(found.hits.contains { texts[$0.id]!.contains("ガス") || texts[$0.id]!.contains("ｶﾞｽ") } || !texts.values.contains { $0.contains("ガス") || $0.contains("ｶﾞｽ") })
        }
    }

    /// A mapping that changes a field's analysis under the same view version is refused (its
    /// index holds the old terms); a new version rebuilds blue/green with it. Bad `foldKana`
    /// options are mapping errors.
    @Test func changingTheAnalysisIsANewViewVersion() async throws {
        let plain = #"{"types": ["Saved"], "id": "key", "fields": {"text": {"path": "$.text", "type": "text"}}}"#
        let folded = #"{"types": ["Saved"], "id": "key", "fields": {"text": {"path": "$.text", "type": "text", "foldKana": true}}}"#
        for bad in [#"{"fields": {"owner": {"path": "$.o", "type": "keyword", "foldKana": true}}}"#,
                    #"{"fields": {"text": {"path": "$.t", "type": "text", "foldKana": "yes"}}}"#,
                    #"{"fields": {"text": {"path": "$.t", "type": "text", "analyzer": "kana"}}}"#] {
            #expect(throws: KirokuError.self, "\(bad)") { try SearchMapping(json: Data(bad.utf8)) }
        }
        try await withLog(label: "kiroku-kana-version") { log, _ async throws in
            try await log.append(to: "a", jsonEvent("Saved", ["text": "ガス料金"]))
            let v1 = SearchView(name: "notes", version: 1, mapping: try SearchMapping(json: Data(plain.utf8)))
            try await ProjectionRunner.runUntilActive(log: log, projections: [v1], name: "notes", version: 1)
            // The same version with folding: refused, with what to do.
            let changed = SearchView(name: "notes", version: 1, mapping: try SearchMapping(json: Data(folded.utf8)))
            try await log.append(to: "b", jsonEvent("Saved", ["text": "がす"]))
            // The view stops (projection-failed) and says why: the analysis changed.
            let refused = await expectError(.projectionFailed) {
                try await ProjectionRunner.runUntilActive(log: log, projections: [changed], name: "notes", version: 1)
            }
            #expect(refused?.message.contains("invalid-mapping") == true && refused?.message.contains("new version") == true, "\(String(describing: refused))")
            // A new version: built blue/green, and a hiragana query finds the katakana.
            let v2 = SearchView(name: "notes", version: 2, mapping: try SearchMapping(json: Data(folded.utf8)))
            try await ProjectionRunner.runUntilActive(log: log, projections: [v2, v1], name: "notes", version: 2)
            let hits = try ProjectionCatalog(store: log.path).withReader("notes", tables: v2.tables) {
                try $0.search(SearchRequest(query: .built(.match(field: "text", text: "がす")), limit: 10)).hits.map(\.id)
            }
            #expect(Set(hits) == ["a", "b"])
        }
    }
}
