import Foundation
import KirokuLog

/// The text form of aggregations that `kiroku search --agg` and the HTTP API's `agg=` take:
///
/// ```
/// [NAME=] LEVEL [> LEVEL]…        each LEVEL but the last is one bucket aggregation;
///                                 the last is one or more aggregations, comma-separated
/// count
/// sum(F)  avg(F)  min(F)  max(F)  stats(F)
/// terms(F[, SIZE])
/// histogram(F, INTERVAL)
/// date_histogram(F, day|week|month|year[, TIME-ZONE])     e.g. Asia/Tokyo, America/New_York
/// range(F, FROM..TO, …)                                   * for an open end; numbers or dates
/// ```
///
/// `by_month=date_histogram(date, month, Asia/Tokyo) > terms(owner, 5) > sum(amount), avg(amount)`
/// is, per Tokyo month, per top-5 owner, the sum and the average of amount. Names left out are
/// made from the kind and the field (`terms_owner`, `sum_amount`, `count`).
public enum AggregationParser {
    /// Parses one aggregation spec into its name and aggregation.
    ///
    /// - Throws: ``KirokuError/Code/invalidQuery`` saying what is wrong and what to write.
    public static func parse(_ text: String) throws -> (name: String, aggregation: Aggregation) {
        var body = Substring(text)
        var name: String?
        if let equals = body.firstIndex(of: "="), !body[..<equals].contains("(") {
            name = body[..<equals].trimmingCharacters(in: .whitespaces)
            body = body[body.index(after: equals)...]
            guard let given = name, !given.isEmpty, given.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
                throw invalid(text, "the name before '=' must be letters, digits, '_' or '-'")
            }
        }
        let levels = try split(body, on: ">", in: text).map { try split($0, on: ",", in: text).map { try call($0, in: text) } }
        guard let last = levels.last, !last.isEmpty else { throw invalid(text, "it is empty") }
        // Build from the innermost level out.
        var inner: [String: Aggregation] = [:]
        for (named, aggregation) in last { inner[named] = aggregation }
        for level in levels.dropLast().reversed() {
            guard level.count == 1, let (levelName, aggregation) = level.first else {
                throw invalid(text, "only the last level may list several aggregations (comma-separated)")
            }
            guard let nested = Self.nest(aggregation, inner) else {
                throw invalid(text, "\(AggregationExecution.kind(aggregation)) has no sub-aggregations; put it last")
            }
            inner = [levelName: nested]
        }
        guard inner.count == 1 || name == nil else { throw invalid(text, "a name covers one aggregation; give several as several specs") }
        if inner.count > 1 { throw invalid(text, "give one aggregation per spec at the top (several --agg, or a bucket level first)") }
        let (auto, aggregation) = inner.first!
        return (name ?? auto, aggregation)
    }

    /// Several specs by name (`kiroku search --agg`, the HTTP API's `agg=`).
    ///
    /// - Throws: ``KirokuError/Code/invalidQuery`` for a bad spec or a name given twice.
    public static func named(_ specs: [String]) throws -> [String: Aggregation] {
        var named: [String: Aggregation] = [:]
        for spec in specs {
            let (name, aggregation) = try parse(spec)
            guard named[name] == nil else {
                throw KirokuError(.invalidQuery, "Invalid aggregation '\(spec)': the name '\(name)' is given twice; name one of them (NAME=…).")
            }
            named[name] = aggregation
        }
        return named
    }

    /// An aggregation's result as indented lines for people: metrics as `name: value`, buckets
    /// as `key  count` with their sub-aggregations under them.
    public static func lines(_ name: String, _ result: AggregationResult, indent: String = "") -> [String] {
        func number(_ value: Double?) -> String {
            guard let value else { return "-" }
            return value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.2f", value)
        }
        switch result {
        case .value(let value, let text):
            return ["\(indent)\(name): \(text ?? number(value))"]
        case .stats(let stats):
            return ["\(indent)\(name): count \(stats.count), sum \(number(stats.sum)), min \(number(stats.min)), max \(number(stats.max)), avg \(number(stats.avg))"]
        case .buckets(let buckets, let other):
            var lines = ["\(indent)\(name):"]
            let width = buckets.map(\.key.count).max() ?? 0
            for bucket in buckets {
                lines.append("\(indent)  \(bucket.key.padding(toLength: width, withPad: " ", startingAt: 0))  \(bucket.count)")
                for (sub, inner) in bucket.aggregations.sorted(by: { $0.key < $1.key }) {
                    lines += Self.lines(sub, inner, indent: indent + "    ")
                }
            }
            if let other, other > 0 { lines.append("\(indent)  (other)  \(other)") }
            return lines
        }
    }

    private static func nest(_ aggregation: Aggregation, _ sub: [String: Aggregation]) -> Aggregation? {
        switch aggregation {
        case .terms(let f, let size, _): .terms(f, size: size, sub: sub)
        case .histogram(let f, let interval, _): .histogram(f, interval: interval, sub: sub)
        case .dateHistogram(let f, let interval, let zone, _): .dateHistogram(f, interval, timeZone: zone, sub: sub)
        case .range(let f, let ranges, _): .range(f, ranges, sub: sub)
        default: nil
        }
    }

    /// Splits at `separator` outside parentheses.
    private static func split(_ text: Substring, on separator: Character, in whole: String) throws -> [Substring] {
        var parts: [Substring] = []
        var depth = 0
        var start = text.startIndex
        for index in text.indices {
            switch text[index] {
            case "(": depth += 1
            case ")":
                depth -= 1
                if depth < 0 { throw invalid(whole, "a ')' closes nothing") }
            case separator where depth == 0:
                parts.append(text[start..<index])
                start = text.index(after: index)
            default: break
            }
        }
        guard depth == 0 else { throw invalid(whole, "a '(' is not closed") }
        parts.append(text[start...])
        return parts
    }

    private static func call(_ text: Substring, in whole: String) throws -> (String, Aggregation) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw invalid(whole, "an aggregation is missing (two separators in a row?)") }
        let kind: String
        var arguments: [String] = []
        if let open = trimmed.firstIndex(of: "(") {
            guard trimmed.hasSuffix(")") else { throw invalid(whole, "'\(trimmed)' must end with ')'") }
            kind = String(trimmed[..<open]).trimmingCharacters(in: .whitespaces).lowercased()
            let inside = trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)]
            arguments = inside.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if arguments == [""] { arguments = [] }
        } else {
            kind = trimmed.lowercased()
        }
        func field() throws -> String {
            guard let first = arguments.first, !first.isEmpty else { throw invalid(whole, "\(kind) needs a field: \(kind)(FIELD…)") }
            return first
        }
        func count(_ allowed: ClosedRange<Int>, _ usage: String) throws {
            guard allowed.contains(arguments.count) else { throw invalid(whole, "write \(usage)") }
        }
        switch kind {
        case "count":
            try count(0...0, "count")
            return ("count", .count)
        case "sum", "avg", "min", "max", "stats":
            try count(1...1, "\(kind)(FIELD)")
            let f = try field()
            let aggregation: Aggregation = switch kind {
            case "sum": .sum(f)
            case "avg": .avg(f)
            case "min": .min(f)
            case "max": .max(f)
            default: .stats(f)
            }
            return ("\(kind)_\(f)", aggregation)
        case "terms":
            try count(1...2, "terms(FIELD[, SIZE])")
            let size = try arguments.count > 1 ? integer(arguments[1], "the size", in: whole) : 10
            return ("terms_\(try field())", .terms(try field(), size: size))
        case "histogram":
            try count(2...2, "histogram(FIELD, INTERVAL)")
            guard let interval = Double(arguments[1]), interval > 0, interval.isFinite else {
                throw invalid(whole, "the histogram interval '\(arguments[1])' must be a positive number")
            }
            return ("histogram_\(try field())", .histogram(try field(), interval: interval))
        case "date_histogram":
            try count(2...3, "date_histogram(FIELD, day|week|month|year[, TIME-ZONE])")
            guard let interval = Aggregation.CalendarInterval(rawValue: arguments[1].lowercased()) else {
                throw invalid(whole, "the date_histogram interval '\(arguments[1])' must be day, week, month or year")
            }
            var zone = TimeZone(identifier: "UTC")!
            if arguments.count > 2 {
                guard let given = TimeZone(identifier: arguments[2]) else {
                    throw invalid(whole, "'\(arguments[2])' is not a time zone; write an IANA name such as Asia/Tokyo or UTC")
                }
                zone = given
            }
            return ("date_histogram_\(try field())", .dateHistogram(try field(), interval, timeZone: zone))
        case "range":
            guard arguments.count >= 2 else { throw invalid(whole, "write range(FIELD, FROM..TO, …) with * for an open end") }
            let ranges = try arguments.dropFirst().map { spec -> AggregationRange in
                let bounds = spec.components(separatedBy: "..")
                guard bounds.count == 2 else { throw invalid(whole, "the range '\(spec)' must be FROM..TO (* for an open end)") }
                func bound(_ text: String) throws -> Double? {
                    let text = text.trimmingCharacters(in: .whitespaces)
                    if text == "*" || text.isEmpty { return nil }
                    if let number = Double(text), number.isFinite { return number }
                    if let date = DateValue.parse(text) { return date }
                    throw invalid(whole, "'\(text)' in the range '\(spec)' is not a number or a date")
                }
                return AggregationRange(from: try bound(bounds[0]), to: try bound(bounds[1]))
            }
            return ("range_\(try field())", .range(try field(), ranges))
        default:
            throw invalid(whole, "'\(kind)' is not an aggregation; use count, sum, avg, min, max, stats, terms, histogram, date_histogram or range")
        }
    }

    private static func integer(_ text: String, _ what: String, in whole: String) throws -> Int {
        guard let value = Int(text), value > 0 else { throw invalid(whole, "\(what) '\(text)' must be a whole number from 1") }
        return value
    }

    private static func invalid(_ text: String, _ why: String) -> KirokuError {
        KirokuError(.invalidQuery, "Invalid aggregation '\(text)': \(why). See docs/SEARCH.md#aggregations.")
    }
}
