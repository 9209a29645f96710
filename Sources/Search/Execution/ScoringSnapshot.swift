import KirokuProjections
/// The corpus statistics the scores of a search were computed with: the number of documents,
/// each text field's average length, and the document frequency of every scored term, phrase
/// or prefix, in the order the query scores them (the same order for the same query).
///
/// A page cursor carries the first page's snapshot, and later pages score with it: indexing
/// between two pages changes the statistics, and scores computed with new ones would order
/// unchanged documents differently, so a cursor would skip or repeat them. Floats are kept as
/// their bits, so later pages compute the very same scores.
struct ScoringSnapshot: Codable, Hashable {
    var documents: UInt32
    /// Field index → average length (Float bits).
    var averages: [Int: UInt32]
    /// Document frequencies (Float bits), by scoring order.
    var frequencies: [UInt32]
}

/// Takes the statistics a query scores with from the index, or from a snapshot, and records
/// what it took, for the next page's cursor.
final class ScoringInputs {
    private let stats: IndexStats
    private let frozen: ScoringSnapshot?
    private(set) var recorded = ScoringSnapshot(documents: 0, averages: [:], frequencies: [])

    init(stats: IndexStats, frozen: ScoringSnapshot?) {
        self.stats = stats
        self.frozen = frozen
        recorded.documents = frozen?.documents ?? Float(max(stats.documents, 1)).bitPattern
    }

    var documents: Float { Float(bitPattern: recorded.documents) }

    func averageLength(_ field: Int) -> Float {
        if let known = recorded.averages[field] { return Float(bitPattern: known) }
        let value = frozen?.averages[field] ?? Float(stats.averageLength(field)).bitPattern
        recorded.averages[field] = value
        return Float(bitPattern: value)
    }

    /// The document frequency of the next scored unit: the snapshot's, else `current`.
    func nextFrequency(current: Int) -> Float {
        let index = recorded.frequencies.count
        let value = frozen.flatMap { index < $0.frequencies.count ? $0.frequencies[index] : nil } ?? Float(current).bitPattern
        recorded.frequencies.append(value)
        return Float(bitPattern: value)
    }
}
