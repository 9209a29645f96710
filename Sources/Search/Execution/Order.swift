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

    /// The first `count` keys in order.
    func top(_ keys: [(key: SortKey, doc: UInt32)], _ count: Int) -> [(key: SortKey, doc: UInt32)] {
        if keys.count <= count * 4 { return Array(keys.sorted { precedes(($0.key, $0.doc), ($1.key, $1.doc)) }.prefix(count)) }
        // Keep the best `count` in a sorted buffer: one pass, no full sort.
        var best: [(key: SortKey, doc: UInt32)] = []
        best.reserveCapacity(count + 1)
        for entry in keys {
            if best.count == count, let last = best.last, !precedes((entry.key, entry.doc), (last.key, last.doc)) { continue }
            var low = 0, high = best.count
            while low < high {
                let mid = (low + high) / 2
                if precedes((best[mid].key, best[mid].doc), (entry.key, entry.doc)) { low = mid + 1 } else { high = mid }
            }
            best.insert(entry, at: low)
            if best.count > count { best.removeLast() }
        }
        return best
    }
}
