import Foundation
import KirokuLog
import KirokuProjections

/// Evaluates a ``SearchQuery`` against a view's index in one read transaction: postings for
/// terms, phrases and prefixes (scored with BM25), the range index for numbers and dates, and
/// set algebra for AND, OR and NOT.
final class QueryExecutor {
    let txn: KeyValueTransaction
    let schema: SearchSchema
    var fields: [SearchMapping.Field] { schema.fields }
    let stats: IndexStats
    /// A text field's analyzer (its options: ``SearchMapping/Field/foldKana``).
    func analyzer(_ field: Int) -> Analyzer { Analyzer(for: fields[field]) }
    /// The hits' number, date and keyword values (for ranges here, sorts and facets after).
    let values: DocValueReader

    /// BM25's parameters, Lucene's defaults.
    static let k1: Float = 1.2
    static let b: Float = 0.75
    /// A prefix expanding to more terms than this is refused.
    static let maxExpansions = 10_000

    /// The statistics scores are computed with (the index's, or a page cursor's).
    let scoring: ScoringInputs

    init(txn: KeyValueTransaction, fields: [SearchMapping.Field], stats: IndexStats, scoring: ScoringSnapshot? = nil) throws {
        self.txn = txn
        values = try DocValueReader(txn: txn)
        self.schema = SearchSchema(fields: fields)
        self.stats = stats
        self.scoring = ScoringInputs(stats: stats, frozen: scoring)
    }

    /// The documents matching `query`, with their scores. With `within` (sorted), the result
    /// may leave out documents not among those (an AND passes the candidates its earlier
    /// clauses left, so a term scores only those); it always holds every one that matches.
    /// Every scored unit is still counted over the whole index, in query order, so scores do
    /// not depend on `within`.
    func evaluate(_ query: SearchQuery, within: [UInt32]? = nil) throws -> DocScores {
        switch query {
        case .all:
            return try allDocuments()
        case .match(let field, let text):
            return try union(over: field, text) { index, type in
                switch type {
                case .text: return try textMatch(index, text, lastIsPrefix: false, within: within)
                case .keyword: return try keyword(index, text)
                case .number, .date:
                    let bound = SearchQuery.Bound(text, inclusive: true)
                    return try range(index, type, lower: bound, upper: bound)
                }
            }
        case .phrase(let field, let text):
            return try union(over: field, text) { index, type in
                switch type {
                case .text: return try textMatch(index, text, lastIsPrefix: false)
                case .keyword: return try keyword(index, text)
                case .number, .date: throw invalid("a phrase cannot search the \(type.rawValue) field '\(fields[index].name)'; use field:value or a range")
                }
            }
        case .prefix(let field, let prefix):
            return try union(over: field, prefix) { index, type in
                switch type {
                case .text: return try textMatch(index, prefix, lastIsPrefix: true, within: within)
                case .keyword: return try keywordPrefix(index, prefix)
                case .number, .date: throw invalid("a prefix cannot search the \(type.rawValue) field '\(fields[index].name)'; use a range such as \(fields[index].name):[a TO b]")
                }
            }
        case .range(let name, let lower, let upper):
            let (index, type) = try rangeField(name)
            return try range(index, type, lower: lower, upper: upper)
        case .and(let items):
            var negatives: [DocScores] = []
            // Ranges wait: each candidate the other clauses leave has its own value checked (a
            // doc value read each, at most as many as the candidates already cost) instead of
            // a scan of the range index (a year of dates is a third of the documents; three
            // keyword filters leave a few hundred). Views without doc values check at most
            // `candidateCheckLimit` candidates on their stored documents.
            var ranges: [(field: Int, bounds: RangeBounds)] = []
            // Clauses in query order (the order scores take their statistics in), each after
            // the first given the candidates left so far.
            var running: DocScores?
            for item in items {
                if case .not(let inner) = item {
                    negatives.append(try evaluate(inner))
                } else if case .range(let name, let lower, let upper) = item, items.count > 1 {
                    let (index, type) = try rangeField(name)
                    ranges.append((index, try rangeBounds(index, type, lower: lower, upper: upper)))
                } else {
                    let set = try evaluate(item, within: running?.docs ?? within)
                    running = running.map { $0.intersection(set) } ?? set
                }
            }
            // Only ranges: the first one is scanned, the others checked against it.
            var result: DocScores
            if let running {
                result = running
            } else if let first = ranges.first {
                result = try range(first.field, first.bounds)
                ranges.removeFirst()
            } else {
                result = try allDocuments()
            }
            for (field, bounds) in ranges where result.count > 0 {
                if values.columnar || result.count <= Self.candidateCheckLimit {
                    var keep = [Bool](repeating: false, count: result.count)
                    try values.forEachNumber(field, of: result.docs) { i, value in keep[i] = value.map(bounds.contains) ?? false }
                    result = result.keeping(keep)
                } else {
                    result = result.intersection(try range(field, bounds))
                }
            }
            for negative in negatives where result.count > 0 { result = result.subtracting(negative) }
            return result
        case .or(let items):
            var result = DocScores()
            for item in items { result = result.union(try evaluate(item, within: within)) }
            return result
        case .not(let inner):
            return try allDocuments().subtracting(try evaluate(inner))
        }
    }

    private func invalid(_ what: String) -> KirokuError { SearchSchema.invalid(what) }

    /// The field a range names, which must hold numbers or dates.
    private func rangeField(_ name: String) throws -> (index: Int, type: SearchMapping.FieldType) {
        let (index, field) = try schema.resolve(name)
        guard field.type == .number || field.type == .date else {
            throw invalid("'\(name)' is a \(field.type.rawValue) field; ranges work on number and date fields")
        }
        return (index, field.type)
    }

    private func union(over field: String?, _ text: String, _ body: (Int, SearchMapping.FieldType) throws -> DocScores) throws -> DocScores {
        var result = DocScores()
        for (index, type) in try schema.targets(field) { result = result.union(try body(index, type)) }
        return result
    }

    // MARK: Sets

    private func allDocuments() throws -> DocScores {
        var result = DocScores()
        result.docs.reserveCapacity(Int(stats.documents))
        try txn.forEach(in: SearchTables.docs, prefix: []) { key, _ in
            result.docs.append(IndexKey.readDoc(key, at: 0))
            return true
        }
        result.scores = [Float](repeating: 0, count: result.docs.count)
        return result
    }

    private func keyword(_ field: Int, _ value: String) throws -> DocScores {
        let postings = try read(IndexKey.term(field, value), positional: false, withPositions: false)
        return DocScores(docs: postings.docs, scores: [Float](repeating: 0, count: postings.docs.count))
    }

    private func keywordPrefix(_ field: Int, _ prefix: String) throws -> DocScores {
        let postings = try readPrefix(IndexKey.term(field, prefix), positional: false, withPositions: false)
        return DocScores(docs: postings.docs, scores: [Float](repeating: 0, count: postings.docs.count))
    }

    /// Documents whose value lies between the bounds. A date bound stands for the whole unit
    /// it is written to (``DateValue/span(_:)``): an inclusive bound takes the unit in, an
    /// exclusive one leaves it out, so `[2020-01-01 TO 2020-01-31]` ends at the end of the 31st
    /// and `{2020-01-01 TO …` starts on the 2nd (as Elasticsearch rounds date bounds).
    /// In a view without doc values, at most this many candidates have a range checked on
    /// their own values (a stored document read each) rather than by a scan of the range index.
    static let candidateCheckLimit = 2048

    /// A range's bounds on a field's values: `value >= low` (or `>` when not inclusive),
    /// `value <= high` (or `<`).
    struct RangeBounds {
        var low: (value: Double, inclusive: Bool)?
        var high: (value: Double, inclusive: Bool)?

        func contains(_ number: Double) -> Bool {
            if let low, number < low.value || (!low.inclusive && number == low.value) { return false }
            if let high, number > high.value || (!high.inclusive && number == high.value) { return false }
            return true
        }
    }

    /// A range query's bounds. A date bound stands for the whole unit it is written to
    /// (``DateValue/span(_:)``): an inclusive bound takes the unit in, an exclusive one leaves
    /// it out, so `[2020-01-01 TO 2020-01-31]` ends at the end of the 31st and
    /// `{2020-01-01 TO …` starts on the 2nd (as Elasticsearch rounds date bounds).
    private func rangeBounds(_ field: Int, _ type: SearchMapping.FieldType, lower: SearchQuery.Bound?, upper: SearchQuery.Bound?) throws -> RangeBounds {
        func span(_ bound: SearchQuery.Bound) throws -> (start: Double, end: Double) {
            let parsed = type == .date ? DateValue.span(bound.value) : Double(bound.value).map { ($0, $0) }
            guard let parsed, parsed.start.isFinite, parsed.end.isFinite else {
                throw invalid("'\(bound.value)' is not a \(type == .date ? "date (write 2024, 2024-05, 2024-05-01, 2024-05-01T09:30:00Z or epoch seconds)" : "number") for the field '\(fields[field].name)'")
            }
            return parsed
        }
        let low: (value: Double, inclusive: Bool)? = try lower.map { bound in
            let unit = try span(bound)
            if unit.start == unit.end { return (unit.start, bound.inclusive) }
            return bound.inclusive ? (unit.start, true) : (unit.end, true)
        }
        let high: (value: Double, inclusive: Bool)? = try upper.map { bound in
            let unit = try span(bound)
            if unit.start == unit.end { return (unit.start, bound.inclusive) }
            return bound.inclusive ? (unit.end, false) : (unit.start, false)
        }
        return RangeBounds(low: low, high: high)
    }

    /// Documents whose value lies between the bounds (see ``rangeBounds(_:_:lower:upper:)``).
    private func range(_ field: Int, _ type: SearchMapping.FieldType, lower: SearchQuery.Bound?, upper: SearchQuery.Bound?) throws -> DocScores {
        try range(field, try rangeBounds(field, type, lower: lower, upper: upper))
    }

    private func range(_ field: Int, _ bounds: RangeBounds) throws -> DocScores {
        var docs: [UInt32] = []
        let prefix: [UInt8] = [UInt8(field)]
        try txn.forEach(in: SearchTables.ranges, prefix: prefix, from: bounds.low.map { prefix + IndexKey.sortable($0.value) }) { key, _ in
            let number = Self.unsortable(key, at: 1)
            if let high = bounds.high, number > high.value || (!high.inclusive && number == high.value) { return false }
            if bounds.contains(number) { docs.append(IndexKey.readDoc(key, at: 9)) }
            return true
        }
        docs.sort()
        return DocScores(docs: docs, scores: [Float](repeating: 0, count: docs.count))
    }

    static func unsortable(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Double {
        let ordered = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        let bits = ordered & (1 << 63) != 0 ? ordered & ~(1 << 63) : ~ordered
        return Double(bitPattern: bits)
    }

    // MARK: Text

    /// A term of a phrase: an exact term, or any term starting with a prefix.

    private func textMatch(_ field: Int, _ text: String, lastIsPrefix: Bool, within: [UInt32]? = nil) throws -> DocScores {
        let tokens = analyzer(field).tokens(text)
        guard !tokens.isEmpty else { return DocScores() }
        let matchers = QueryTerms.matchers(tokens, lastIsPrefix: lastIsPrefix)
        if matchers.count == 1 {
            let postings = try postings(matchers[0].0, field: field, withPositions: false)
            // The term's frequency counts all its documents; only candidates are scored.
            return try score(field, docs: postings.docs, frequencies: postings.frequencies, within: within)
        }
        let lists = try matchers.map { try postings($0.0, field: field, withPositions: true) }
        let order = lists.indices.sorted { lists[$0].docs.count < lists[$1].docs.count }
        var cursors = [Int](repeating: 0, count: lists.count)
        var at = [Int](repeating: 0, count: lists.count)
        var docs: [UInt32] = []
        var frequencies: [UInt32] = []
        let smallest = lists[order[0]].docs
        let offsets = matchers.map(\.1)
        candidates: for (i, doc) in smallest.enumerated() {
            at[order[0]] = i
            for list in order.dropFirst() {
                // Galloping to the candidate: lists can be far longer than the smallest.
                let cursor = lists[list].docs.withUnsafeBufferPointer { DocScores.gallop($0, to: doc, from: cursors[list]) }
                cursors[list] = cursor
                guard cursor < lists[list].docs.count else { break candidates }
                guard lists[list].docs[cursor] == doc else { continue candidates }
                at[list] = cursor
            }
            // Phrase starts: positions of the first matcher minus its offset, kept where every
            // other matcher sits at its own offset.
            var count: UInt32 = 0
            for position in lists[0].positions(at[0]) {
                let start = Int(position) - offsets[0]
                guard start >= 0 else { continue }
                var ok = true
                for m in 1..<matchers.count where ok {
                    ok = Self.contains(lists[m].positions(at[m]), UInt32(start + offsets[m]))
                }
                if ok { count += 1 }
            }
            if count > 0 {
                docs.append(doc)
                frequencies.append(count)
            }
        }
        return try score(field, docs: docs, frequencies: frequencies)
    }

    private static func contains(_ sorted: ArraySlice<UInt32>, _ value: UInt32) -> Bool {
        // Positions per document are usually few: a linear scan then, else a binary search.
        if sorted.count <= 8 {
            for position in sorted where position >= value { return position == value }
            return false
        }
        var low = sorted.startIndex, high = sorted.endIndex
        while low < high {
            let mid = (low + high) / 2
            if sorted[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low < sorted.endIndex && sorted[low] == value
    }

    private func postings(_ matcher: QueryTerms.Matcher, field: Int, withPositions: Bool) throws -> TermPostings {
        switch matcher {
        case .exact(let term): return try read(IndexKey.term(field, term), positional: true, withPositions: withPositions)
        case .prefix(let prefix): return try readPrefix(IndexKey.term(field, prefix), positional: true, withPositions: withPositions)
        }
    }

    /// Reads one term's postings.
    func read(_ term: [UInt8], positional: Bool, withPositions: Bool) throws -> TermPostings {
        var result = TermPostings()
        // The term's document count sizes the arrays once.
        if let info = try txn.get(term, in: SearchTables.terms), info.count >= 4 {
            let count = Int(info.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) })
            result.docs.reserveCapacity(count)
            result.frequencies.reserveCapacity(count)
            if withPositions { result.positionStarts.reserveCapacity(count + 1) }
        } else {
            return result
        }
        let prefix = term + [0]
        try txn.forEach(in: SearchTables.postings, prefix: prefix) { key, value in
            PostingBlock.decode(first: IndexKey.readDoc(key, at: prefix.count), value, positional: positional,
                                withPositions: withPositions, into: &result)
            return true
        }
        return result
    }

    /// Reads and merges the postings of every term starting with `prefix`.
    private func readPrefix(_ prefix: [UInt8], positional: Bool, withPositions: Bool) throws -> TermPostings {
        var terms: [[UInt8]] = []
        var tooMany = false
        try txn.forEach(in: SearchTables.terms, prefix: prefix) { key, _ in
            guard terms.count < Self.maxExpansions else { tooMany = true; return false }
            terms.append([UInt8](key))
            return true
        }
        if tooMany {
            let text = String(decoding: prefix.dropFirst(), as: UTF8.self)
            throw invalid("'\(text)*' matches more than \(Self.maxExpansions) terms; make the prefix longer")
        }
        return TermPostings.merged(try terms.map { try read($0, positional: positional, withPositions: withPositions) }, withPositions: withPositions)
    }

    // MARK: Scoring

    /// BM25 of a term (or phrase) over the documents it matches.
    private func score(_ field: Int, docs allDocs: [UInt32], frequencies allFrequencies: [UInt32], within: [UInt32]? = nil) throws -> DocScores {
        let n = scoring.documents
        let df = scoring.nextFrequency(current: allDocs.count)
        var docs = allDocs, frequencies = allFrequencies
        if let within {
            let kept = DocScores.positions(of: within, in: allDocs)
            docs = kept.map { allDocs[$0] }
            frequencies = kept.map { allFrequencies[$0] }
        }
        let idf = log(1 + max(0, n - df + 0.5) / (df + 0.5))
        let average = scoring.averageLength(field)
        guard !docs.isEmpty else { return DocScores() }
        // Documents come in order: one walk over the field's norm blocks, each read in place,
        // scores the documents of each block (a missing block holds only zero norms).
        var scorer = BM25Block(docs: docs, frequencies: frequencies, weight: idf * (Self.k1 + 1),
                               base: Self.k1 * (1 - Self.b), slope: Self.k1 * Self.b / average)
        try txn.forEach(in: SearchTables.norms, prefix: [UInt8(field)], from: IndexKey.norms(field, block: docs[0] / SearchTables.normsPerBlock)) { key, value in
            scorer.score(block: IndexKey.readDoc(key, at: 1), norms: value)
            return scorer.index < docs.count
        }
        scorer.score(block: .max, norms: nil)
        return DocScores(docs: docs, scores: scorer.scores)
    }

    /// BM25 of documents in doc order, a norm block at a time. A struct, not captured
    /// variables: a closure's captured variables cost a dynamic exclusivity check per access
    /// (40% of a term query's time).
    private struct BM25Block {
        let docs: [UInt32]
        let frequencies: [UInt32]
        let weight, base, slope: Float
        var scores: [Float]
        var index = 0

        init(docs: [UInt32], frequencies: [UInt32], weight: Float, base: Float, slope: Float) {
            self.docs = docs
            self.frequencies = frequencies
            self.weight = weight
            self.base = base
            self.slope = slope
            scores = [Float](repeating: 0, count: docs.count)
        }

        /// Scores the documents up to the end of `block`, whose norms are `norms` (nil: none).
        mutating func score(block: UInt32, norms: UnsafeRawBufferPointer?) {
            while index < docs.count, docs[index] / SearchTables.normsPerBlock <= block {
                let doc = docs[index]
                var norm = 0
                if let norms, doc / SearchTables.normsPerBlock == block {
                    let slot = Int(doc % SearchTables.normsPerBlock)
                    if norms.count >= (slot + 1) * 2 { norm = Int(norms[slot * 2]) | Int(norms[slot * 2 + 1]) << 8 }
                }
                let tf = Float(frequencies[index])
                scores[index] = weight * tf / (tf + base + slope * Float(max(1, norm - 1)))
                index += 1
            }
        }
    }
}
