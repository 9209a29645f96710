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
        guard depth < Self.maxDepth else { throw SearchSchema.invalid("aggregations nest more than \(Self.maxDepth) levels") }
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
            var stats = AggregationStats(count: 0, sum: 0, min: nil, max: nil, avg: nil)
            try values.forEachNumber(field, of: docs) { _, value in
                guard let value else { return }
                stats.count += 1
                stats.sum += value
                stats.min = Swift.min(stats.min ?? value, value)
                stats.max = Swift.max(stats.max ?? value, value)
            }
            stats.avg = stats.count > 0 ? stats.sum / Double(stats.count) : nil
            func text(_ value: Double?) -> String? { type == .date ? value.map(DateValue.format) : nil }
            switch aggregation {
            case .sum: return .value(stats.sum, text: nil)
            case .avg: return .value(stats.avg, text: text(stats.avg))
            case .min: return .value(stats.min, text: text(stats.min))
            case .max: return .value(stats.max, text: text(stats.max))
            default: return .stats(stats)
            }
        case .terms(let name, let size, let sub):
            let (field, declared) = try schema.resolve(name)
            guard declared.type == .keyword else { throw SearchSchema.invalid("terms aggregation on '\(name)', a \(declared.type.rawValue) field; terms count keyword fields") }
            guard (1...Self.maxBuckets).contains(size) else { throw SearchSchema.invalid("terms size is \(size); give 1 to \(Self.maxBuckets)") }
            // By bucket number: each block's values mapped to buckets once, hits appended by number.
            var keys: [[UInt8]] = []
            var bucketOf: [[UInt8]: Int] = [:]
            var members: [[UInt32]] = []
            // A block's values are mapped when a hit first holds them (a field with a value per
            // document, such as a deal, would otherwise map a whole block per hit's block).
            var local: [Int] = []
            var dictionary: [[UInt8]] = []
            try values.forEachKeywordOrdinals(field, of: docs, block: { values in
                dictionary = values
                local = [Int](repeating: -1, count: values.count)
            }) { i, ordinals in
                for ordinal in ordinals {
                    var bucket = local[ordinal]
                    if bucket < 0 {
                        let value = dictionary[ordinal]
                        bucket = bucketOf[value] ?? {
                            keys.append(value)
                            members.append([])
                            bucketOf[value] = keys.count - 1
                            return keys.count - 1
                        }()
                        local[ordinal] = bucket
                    }
                    members[bucket].append(docs[i])
                }
            }
            // A block's dictionary holds the values of all its documents: keep the ones hits hold.
            let ordered = keys.indices.filter { !members[$0].isEmpty }.sorted { members[$0].count != members[$1].count ? members[$0].count > members[$1].count : keys[$0].lexicographicallyPrecedes(keys[$1]) }
            let other = ordered.dropFirst(size).reduce(0) { $0 + members[$1].count }
            return .buckets(try ordered.prefix(size).map { bucket in
                AggregationBucket(key: String(decoding: keys[bucket], as: UTF8.self), count: members[bucket].count,
                                  aggregations: try run(sub, docs: members[bucket], depth: depth + 1))
            }, other: other)
        case .histogram(let name, let interval, let sub):
            let (field, _) = try numeric(name, for: aggregation, allowDates: false)
            guard interval > 0, interval.isFinite else { throw SearchSchema.invalid("histogram interval is \(interval); give a positive number") }
            // Bucket n holds [n × interval, (n + 1) × interval).
            var members: [Int64: [UInt32]] = [:]
            var tooWide = false
            try values.forEachNumber(field, of: docs) { i, value in
                guard let value else { return }
                let n = (value / interval).rounded(.down)
                guard abs(n) < 9e15 else { tooWide = true; return }
                members[Int64(n), default: []].append(docs[i])
            }
            guard !tooWide, let low = members.keys.min(), let high = members.keys.max(), high - low < Int64(Self.maxBuckets) else {
                if members.isEmpty && !tooWide { return .buckets([], other: nil) }
                throw SearchSchema.invalid("the histogram of '\(name)' would have more than \(Self.maxBuckets) buckets; give a wider interval")
            }
            return .buckets(try (low...high).map { n in
                let key = Double(n) * interval
                let docs = members[n] ?? []
                return AggregationBucket(key: Self.number(key), from: key, to: key + interval, count: docs.count,
                                         aggregations: try run(sub, docs: docs, depth: depth + 1))
            }, other: nil)
        case .dateHistogram(let name, let interval, let timeZone, let sub):
            let (field, declared) = try schema.resolve(name)
            guard declared.type == .date else { throw SearchSchema.invalid("date_histogram on '\(name)', a \(declared.type.rawValue) field; give a date field") }
            var seconds: [(Int, Double)] = []
            try values.forEachNumber(field, of: docs) { i, value in if let value { seconds.append((i, value)) } }
            guard let low = seconds.map(\.1).min(), let high = seconds.map(\.1).max() else { return .buckets([], other: nil) }
            let bounds = try CalendarBuckets(interval, timeZone: timeZone, from: low, through: high, limit: Self.maxBuckets, field: name)
            var members = [[UInt32]](repeating: [], count: bounds.starts.count - 1)
            for (i, value) in seconds { members[bounds.index(of: value)].append(docs[i]) }
            return .buckets(try members.indices.map { b in
                AggregationBucket(key: bounds.label(b), from: bounds.starts[b], to: bounds.starts[b + 1], count: members[b].count,
                                  aggregations: try run(sub, docs: members[b], depth: depth + 1))
            }, other: nil)
        case .range(let name, let ranges, let sub):
            let (field, type) = try numeric(name, for: aggregation)
            guard !ranges.isEmpty, ranges.count <= Self.maxBuckets else { throw SearchSchema.invalid("a range aggregation needs 1 to \(Self.maxBuckets) ranges") }
            var members = [[UInt32]](repeating: [], count: ranges.count)
            try values.forEachNumber(field, of: docs) { i, value in
                guard let value else { return }
                for (r, range) in ranges.enumerated() where (range.from.map { value >= $0 } ?? true) && (range.to.map { value < $0 } ?? true) {
                    members[r].append(docs[i])
                }
            }
            func bound(_ value: Double?) -> String { value.map { type == .date ? DateValue.format($0) : Self.number($0) } ?? "*" }
            return .buckets(try ranges.indices.map { r in
                AggregationBucket(key: ranges[r].key ?? "\(bound(ranges[r].from))-\(bound(ranges[r].to))", from: ranges[r].from, to: ranges[r].to,
                                  count: members[r].count, aggregations: try run(sub, docs: members[r], depth: depth + 1))
            }, other: nil)
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
