import Foundation
import KirokuLog
import KirokuProjections

/// What hits are ordered by.
enum SortKey: Codable, Hashable {
    case score(Float)
    case number(Double)
    case keyword(String)
    case missing
}

/// The order of a request: by score (best first, then doc number), or by a field (documents
/// without a value last, then doc number).
struct Order {
    let field: Int?
    let descending: Bool

    init(_ sort: SearchRequest.Sort?, schema: SearchSchema) throws {
        guard let sort else {
            field = nil
            descending = true
            return
        }
        let (index, field) = try schema.resolve(sort.field)
        guard field.type != .text else {
            throw SearchSchema.invalid("'\(sort.field)' is a text field; sort by a keyword, number or date field")
        }
        self.field = index
        descending = sort.descending
    }

    /// Whether `a` comes before `b`.
    func precedes(_ a: (SortKey, UInt32), _ b: (SortKey, UInt32)) -> Bool {
        switch (a.0, b.0) {
        case (.score(let x), .score(let y)) where x != y: return x > y
        case (.number(let x), .number(let y)) where x != y: return descending ? x > y : x < y
        case (.keyword(let x), .keyword(let y)) where x != y: return descending ? x > y : x < y
        case (.missing, .missing): break
        case (.missing, _): return false
        case (_, .missing): return true
        default: break
        }
        return a.1 < b.1
    }

    /// The first `count` hits in this order after `after` (a page cursor's position), with
    /// their sort keys. Scores, numbers and dates are ranked as plain doubles (no sort key per
    /// hit); keywords as sort keys.
    func page(of matches: DocScores, values: DocValueReader, keyword: Bool, after: (SortKey, UInt32)?,
              count: Int) throws -> [(key: SortKey, doc: UInt32)] {
        if let field, keyword {
            var keys: [(key: SortKey, doc: UInt32)] = []
            keys.reserveCapacity(matches.count)
            for doc in matches.docs {
                let key = try values.firstKeyword(field, doc).map(SortKey.keyword) ?? .missing
                if let after, !precedes(after, (key, doc)) { continue }
                keys.append((key, doc))
            }
            return Self.first(count, of: keys) { precedes(($0.key, $0.doc), ($1.key, $1.doc)) }
        }
        // Rank: smaller comes first; documents without a value rank last (+infinity: values
        // are finite), ties by doc number.
        var ranks: [(rank: Double, doc: UInt32)] = []
        ranks.reserveCapacity(matches.count)
        if let field {
            try values.forEachNumber(field, of: matches.docs) { i, value in
                ranks.append((value.map { descending ? -$0 : $0 } ?? .infinity, matches.docs[i]))
            }
        } else {
            for i in 0..<matches.count { ranks.append((-Double(matches.scores[i]), matches.docs[i])) }
        }
        if let after {
            let start = (rank(after.0), after.1)
            ranks.removeAll { $0 <= start }
        }
        // The comparison written out (tuple `<` showed as a quarter of a term query's time).
        return Self.first(count, of: ranks) { $0.rank < $1.rank || ($0.rank == $1.rank && $0.doc < $1.doc) }
            .map { (key(rank: $0.rank), $0.doc) }
    }

    private func rank(_ key: SortKey) -> Double {
        switch key {
        case .score(let score): return -Double(score)
        case .number(let number): return descending ? -number : number
        case .keyword, .missing: return .infinity
        }
    }

    private func key(rank: Double) -> SortKey {
        if rank == .infinity { return .missing }
        if field == nil { return .score(Float(-rank)) }
        return .number(descending ? -rank : rank)
    }

    /// The first `count` items in the order `less` gives, in that order: a sort when they are
    /// few, else one pass keeping the best in a sorted buffer. Inlined, so each caller's
    /// comparison is too.
    @inline(__always)
    static func first<T>(_ count: Int, of items: [T], by less: (T, T) -> Bool) -> [T] {
        if items.count <= count * 4 { return Array(items.sorted(by: less).prefix(count)) }
        var best: [T] = []
        best.reserveCapacity(count + 1)
        for item in items {
            if best.count == count, let last = best.last, !less(item, last) { continue }
            var low = 0, high = best.count
            while low < high {
                let mid = (low + high) / 2
                if less(best[mid], item) { low = mid + 1 } else { high = mid }
            }
            best.insert(item, at: low)
            if best.count > count { best.removeLast() }
        }
        return best
    }
}
