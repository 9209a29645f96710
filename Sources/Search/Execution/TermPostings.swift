import KirokuProjections
/// The postings of one query term (or of every term of a prefix), read for a query.
struct TermPostings {
    var docs: [UInt32] = []
    var frequencies: [UInt32] = []
    /// Positions per document, when read with positions.
    var positions: [[UInt32]] = []

    /// Merges the postings of several terms (a prefix): frequencies add, positions merge.
    static func merged(_ lists: [TermPostings], withPositions: Bool) -> TermPostings {
        guard lists.count > 1 else { return lists.first ?? TermPostings() }
        var byDoc: [UInt32: (UInt32, [UInt32])] = [:]
        for list in lists {
            for i in list.docs.indices {
                var entry = byDoc[list.docs[i]] ?? (0, [])
                entry.0 += list.frequencies[i]
                if withPositions { entry.1.append(contentsOf: list.positions[i]) }
                byDoc[list.docs[i]] = entry
            }
        }
        var result = TermPostings()
        for doc in byDoc.keys.sorted() {
            let entry = byDoc[doc]!
            result.docs.append(doc)
            result.frequencies.append(entry.0)
            if withPositions { result.positions.append(entry.1.sorted()) }
        }
        return result
    }
}
