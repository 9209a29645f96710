import Foundation
import KirokuLog

/// Computes aggregations over a query's hits from the view's doc values, exactly: metrics in
/// one pass over a field's blocks, buckets by assigning each hit, sub-aggregations over each
/// bucket's hits (in doc order, so their blocks are read in order too).
struct AggregationExecution {
    let values: DocValueReader
    let schema: SearchSchema

    /// Buckets one aggregation may make (a histogram over a wide range, a daily histogram over
    /// centuries); more is refused.
    static let maxBuckets = 10_000
    /// How deep sub-aggregations may nest.
    static let maxDepth = 4

    func run(_ aggregations: [String: Aggregation], docs: [UInt32], depth: Int = 0) throws -> [String: AggregationResult] {
        // Checked up front: a level below buckets no hit fills is never run.
        guard depth + (aggregations.values.map(Self.levels).max() ?? 0) <= Self.maxDepth else {
            throw SearchSchema.invalid("aggregations nest more than \(Self.maxDepth) levels")
        }
        var results: [String: AggregationResult] = [:]
        for (name, aggregation) in aggregations {
            results[name] = try run(aggregation, docs: docs, depth: depth)
        }
        return results
    }

    private func run(_ aggregation: Aggregation, docs: [UInt32], depth: Int) throws -> AggregationResult {
        switch aggregation {
        case .count:
            return .value(Double(docs.count), text: nil)
        case .sum(let name), .avg(let name), .min(let name), .max(let name), .stats(let name):
            let (field, type) = try numeric(name, for: aggregation)
            var stats = AggregationStats()
            try values.forEachNumber(field, of: docs) { _, value in if let value { stats.add(value) } }
            return Self.metric(aggregation, stats.averaged, type: type)
        case .terms(let name, let size, let sub):
            let (field, declared) = try schema.resolve(name)
            guard declared.type == .keyword else { throw SearchSchema.invalid("terms aggregation on '\(name)', a \(declared.type.rawValue) field; terms count keyword fields") }
            guard (1...Self.maxBuckets).contains(size) else { throw SearchSchema.invalid("terms size is \(size); give 1 to \(Self.maxBuckets)") }
            // One metric field's statistics come in the same pass as the buckets; other
            // sub-aggregations read the (hit, bucket) pairs.
            let fused = try sub.keys.sorted().compactMap { try metricField(sub[$0]!) }.first
            let needsPairs = sub.values.contains { aggregation in
                if case .count = aggregation { return false }
                return (try? self.metricField(aggregation)).map { $0 != fused } ?? true
            }
            let (buckets, keys, stats) = try HitBuckets.keywords(field, of: docs, values: values, keepingPairs: needsPairs, metric: fused)
            let ordered = buckets.counts.indices.sorted {
                buckets.counts[$0] != buckets.counts[$1] ? buckets.counts[$0] > buckets.counts[$1] : keys[$0].lexicographicallyPrecedes(keys[$1])
            }
            let top = ordered.prefix(size)
            let other = ordered.dropFirst(size).reduce(0) { $0 + buckets.counts[$1] }
            let subs = try runSub(sub, over: buckets, docs: docs, kept: top, depth: depth, stats: fused.map { [$0: stats] } ?? [:])
            return .buckets(top.map { bucket in
                AggregationBucket(key: String(decoding: keys[bucket], as: UTF8.self), count: buckets.counts[bucket], aggregations: subs[bucket])
            }, other: other)
        case .histogram(let name, let interval, let sub):
            let (field, _) = try numeric(name, for: aggregation, allowDates: false)
            guard interval > 0, interval.isFinite else { throw SearchSchema.invalid("histogram interval is \(interval); give a positive number") }
            // Bucket n holds [n × interval, (n + 1) × interval).
            var numbered: [(hit: Int, n: Int64)] = []
            var tooWide = false
            try values.forEachNumber(field, of: docs) { i, value in
                guard let value else { return }
                let n = (value / interval).rounded(.down)
                guard abs(n) < 9e15 else { tooWide = true; return }
                numbered.append((i, Int64(n)))
            }
            guard !tooWide, let low = numbered.lazy.map(\.n).min(), let high = numbered.lazy.map(\.n).max(), high - low < Int64(Self.maxBuckets) else {
                if numbered.isEmpty && !tooWide { return .buckets([], other: nil) }
                throw SearchSchema.invalid("the histogram of '\(name)' would have more than \(Self.maxBuckets) buckets; give a wider interval")
            }
            var buckets = HitBuckets(count: Int(high - low) + 1, keepingPairs: !sub.isEmpty)
            for (hit, n) in numbered { buckets.add(hit: hit, to: Int(n - low)) }
            let subs = try runSub(sub, over: buckets, docs: docs, kept: 0..<buckets.count, depth: depth)
            return .buckets((0..<buckets.count).map { bucket in
                let key = Double(low + Int64(bucket)) * interval
                return AggregationBucket(key: Self.number(key), from: key, to: key + interval, count: buckets.counts[bucket], aggregations: subs[bucket])
            }, other: nil)
        case .dateHistogram(let name, let interval, let timeZone, let sub):
            let (field, declared) = try schema.resolve(name)
            guard declared.type == .date else { throw SearchSchema.invalid("date_histogram on '\(name)', a \(declared.type.rawValue) field; give a date field") }
            var seconds: [(hit: Int, value: Double)] = []
            try values.forEachNumber(field, of: docs) { i, value in if let value { seconds.append((i, value)) } }
            guard let low = seconds.lazy.map(\.value).min(), let high = seconds.lazy.map(\.value).max() else { return .buckets([], other: nil) }
            let bounds = try CalendarBuckets(interval, timeZone: timeZone, from: low, through: high, limit: Self.maxBuckets, field: name)
            var buckets = HitBuckets(count: bounds.starts.count - 1, keepingPairs: !sub.isEmpty)
            for (hit, value) in seconds { buckets.add(hit: hit, to: bounds.index(of: value)) }
            let subs = try runSub(sub, over: buckets, docs: docs, kept: 0..<buckets.count, depth: depth)
            return .buckets((0..<buckets.count).map { b in
                AggregationBucket(key: bounds.label(b), from: bounds.starts[b], to: bounds.starts[b + 1], count: buckets.counts[b], aggregations: subs[b])
            }, other: nil)
        case .range(let name, let ranges, let sub):
            let (field, type) = try numeric(name, for: aggregation)
            guard !ranges.isEmpty, ranges.count <= Self.maxBuckets else { throw SearchSchema.invalid("a range aggregation needs 1 to \(Self.maxBuckets) ranges") }
            var buckets = HitBuckets(count: ranges.count, keepingPairs: !sub.isEmpty)
            try values.forEachNumber(field, of: docs) { i, value in
                guard let value else { return }
                for (r, range) in ranges.enumerated() where (range.from.map { value >= $0 } ?? true) && (range.to.map { value < $0 } ?? true) {
                    buckets.add(hit: i, to: r)
                }
            }
            func bound(_ value: Double?) -> String { value.map { type == .date ? DateValue.format($0) : Self.number($0) } ?? "*" }
            let subs = try runSub(sub, over: buckets, docs: docs, kept: ranges.indices, depth: depth)
            return .buckets(ranges.indices.map { r in
                AggregationBucket(key: ranges[r].key ?? "\(bound(ranges[r].from))-\(bound(ranges[r].to))", from: ranges[r].from, to: ranges[r].to,
                                  count: buckets.counts[r], aggregations: subs[r])
            }, other: nil)
        }
    }

    /// The sub-aggregations of each bucket in `kept` (by bucket number; empty for the others):
    /// counts from the buckets, metrics in one pass over their field's blocks for all buckets,
    /// other aggregations over each bucket's own hits.
    private func runSub(_ sub: [String: Aggregation], over buckets: HitBuckets, docs: [UInt32],
                        kept: some Sequence<Int>, depth: Int, stats computed: [Int: [AggregationStats]] = [:]) throws -> [[String: AggregationResult]] {
        var results = [[String: AggregationResult]](repeating: [:], count: buckets.count)
        guard !sub.isEmpty else { return results }
        var keep = [Bool](repeating: false, count: buckets.count)
        for bucket in kept { keep[bucket] = true }
        let chosen = keep.indices.filter { keep[$0] }
        var statsOf = computed
        var members: [[UInt32]]?
        for (name, aggregation) in sub {
            switch aggregation {
            case .count:
                for bucket in chosen { results[bucket][name] = .value(Double(buckets.counts[bucket]), text: nil) }
            case .sum(let field), .avg(let field), .min(let field), .max(let field), .stats(let field):
                let (index, type) = try numeric(field, for: aggregation)
                let stats = try statsOf[index] ?? buckets.stats(index, of: docs, values: values, kept: keep)
                statsOf[index] = stats
                for bucket in chosen { results[bucket][name] = Self.metric(aggregation, stats[bucket], type: type) }
            default:
                if members == nil { members = buckets.members(of: docs, kept: keep) }
                for bucket in chosen { results[bucket][name] = try run(aggregation, docs: members![bucket], depth: depth + 1) }
            }
        }
        return results
    }

    /// The field a metric aggregation reads, or nil for any other aggregation.
    private func metricField(_ aggregation: Aggregation) throws -> Int? {
        switch aggregation {
        case .sum(let name), .avg(let name), .min(let name), .max(let name), .stats(let name): try numeric(name, for: aggregation).0
        default: nil
        }
    }

    /// A metric aggregation's result from its field's statistics (with `avg` set).
    private static func metric(_ aggregation: Aggregation, _ stats: AggregationStats, type: SearchMapping.FieldType) -> AggregationResult {
        func text(_ value: Double?) -> String? { type == .date ? value.map(DateValue.format) : nil }
        switch aggregation {
        case .sum: return .value(stats.sum, text: nil)
        case .avg: return .value(stats.avg, text: text(stats.avg))
        case .min: return .value(stats.min, text: text(stats.min))
        case .max: return .value(stats.max, text: text(stats.max))
        default: return .stats(stats)
        }
    }

    /// A number or date field's index, for a metric, histogram or range.
    private func numeric(_ name: String, for aggregation: Aggregation, allowDates: Bool = true) throws -> (Int, SearchMapping.FieldType) {
        let (field, declared) = try schema.resolve(name)
        guard declared.type == .number || (allowDates && declared.type == .date) else {
            throw SearchSchema.invalid("\(Self.kind(aggregation)) on '\(name)', a \(declared.type.rawValue) field; give a number\(allowDates ? " or date" : "") field")
        }
        return (field, declared.type)
    }

    /// Levels of an aggregation and its sub-aggregations (a metric is one).
    static func levels(_ aggregation: Aggregation) -> Int {
        switch aggregation {
        case .terms(_, _, let sub), .histogram(_, _, let sub), .dateHistogram(_, _, _, let sub), .range(_, _, let sub):
            1 + (sub.values.map(levels).max() ?? 0)
        default:
            1
        }
    }

    static func kind(_ aggregation: Aggregation) -> String {
        switch aggregation {
        case .count: "count"
        case .sum: "sum"
        case .avg: "avg"
        case .min: "min"
        case .max: "max"
        case .stats: "stats"
        case .terms: "terms"
        case .histogram: "histogram"
        case .dateHistogram: "date_histogram"
        case .range: "range"
        }
    }

    /// A number as a key: integers without a fraction.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

/// The bounds of calendar buckets in a time zone, from the bucket holding `from` to the one
/// holding `through`: each bucket starts at local midnight of its day, Monday, first of the
/// month or year, so buckets across a daylight-saving change have the length the calendar
/// gives them.
struct CalendarBuckets {
    /// Bucket starts in seconds since 1970, plus the end of the last one.
    let starts: [Double]
    let timeZone: TimeZone

    /// Buckets with these bounds.
    init(starts: [Double], timeZone: TimeZone) {
        self.starts = starts
        self.timeZone = timeZone
    }

    init(_ interval: Aggregation.CalendarInterval, timeZone: TimeZone, from: Double, through: Double, limit: Int, field: String) throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        calendar.firstWeekday = 2
        calendar.minimumDaysInFirstWeek = 4
        let component: Calendar.Component
        switch interval {
        case .day: component = .day
        case .week: component = .weekOfYear
        case .month: component = .month
        case .year: component = .year
        }
        let first = Date(timeIntervalSince1970: from)
        var start: Date
        switch interval {
        case .day: start = calendar.startOfDay(for: first)
        case .week: start = calendar.dateInterval(of: .weekOfYear, for: first)?.start ?? calendar.startOfDay(for: first)
        case .month: start = calendar.dateInterval(of: .month, for: first)?.start ?? calendar.startOfDay(for: first)
        case .year: start = calendar.dateInterval(of: .year, for: first)?.start ?? calendar.startOfDay(for: first)
        }
        var starts = [start.timeIntervalSince1970]
        while starts.last! <= through {
            guard starts.count <= limit else {
                throw SearchSchema.invalid("the date_histogram of '\(field)' would have more than \(limit) buckets; give a longer interval")
            }
            guard let next = calendar.date(byAdding: component, value: 1, to: start) else { break }
            start = next
            starts.append(start.timeIntervalSince1970)
        }
        self.starts = starts
        self.timeZone = timeZone
    }

    /// The bucket holding `value`: the last start at or before it.
    func index(of value: Double) -> Int {
        var low = 0, high = starts.count - 1
        while high - low > 1 {
            let middle = (low + high) / 2
            if starts[middle] <= value { low = middle } else { high = middle }
        }
        return low
    }

    /// A bucket's local start as ISO 8601 with the zone's offset then (`2024-03-01T00:00:00+09:00`).
    func label(_ bucket: Int) -> String {
        var style = Date.ISO8601FormatStyle(timeZone: timeZone)
        style = style.year().month().day().time(includingFractionalSeconds: false).timeZone(separator: .colon)
        return Date(timeIntervalSince1970: starts[bucket]).formatted(style)
    }
}
