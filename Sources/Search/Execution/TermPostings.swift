import KirokuProjections
/// The postings of one query term (or of every term of a prefix), read for a query.
struct TermPostings {
    var docs: [UInt32] = []
    var frequencies: [UInt32] = []
    /// Positions of every document, one after the other, when read with positions: document
    /// `i`'s are `positionValues[positionStarts[i]..<positionStarts[i + 1]]` (one array for
    /// all of them, not one per document).
    var positionValues: [UInt32] = []
    var positionStarts: [Int] = [0]

    /// The positions of the `i`th document, in order.
    func positions(_ i: Int) -> ArraySlice<UInt32> {
        positionValues[positionStarts[i]..<positionStarts[i + 1]]
    }

    mutating func append(_ doc: UInt32, frequency: UInt32) {
        docs.append(doc)
        frequencies.append(frequency)
    }

    /// Ends the positions of the document appended last.
    mutating func endPositions() {
        positionStarts.append(positionValues.count)
    }

    /// Merges the postings of several terms (a prefix): frequencies add, positions merge.
    static func merged(_ lists: [TermPostings], withPositions: Bool) -> TermPostings {
        guard lists.count > 1 else { return lists.first ?? TermPostings() }
        var byDoc: [UInt32: (UInt32, [UInt32])] = [:]
        for list in lists {
            for i in list.docs.indices {
                var entry = byDoc[list.docs[i]] ?? (0, [])
                entry.0 += list.frequencies[i]
                if withPositions { entry.1.append(contentsOf: list.positions(i)) }
                byDoc[list.docs[i]] = entry
            }
        }
        var result = TermPostings()
        for doc in byDoc.keys.sorted() {
            let entry = byDoc[doc]!
            result.append(doc, frequency: entry.0)
            if withPositions {
                result.positionValues.append(contentsOf: entry.1.sorted())
                result.endPositions()
            }
        }
        return result
    }
}
