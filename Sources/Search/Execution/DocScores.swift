import KirokuProjections
/// Matching documents in doc-number order, each with its score.
struct DocScores {
    var docs: [UInt32] = []
    var scores: [Float] = []

    var count: Int { docs.count }

    /// The score of a matching document (binary search: `docs` is sorted).
    func score(of doc: UInt32) -> Float {
        let index = Self.lowerBound(docs, doc)
        return index < docs.count && docs[index] == doc ? scores[index] : 0
    }

    /// The first index of `sorted` whose value is not below `value`.
    static func lowerBound(_ sorted: [UInt32], _ value: UInt32) -> Int {
        var low = 0, high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if sorted[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Documents in both, scores added. A set much smaller than the other looks its documents
    /// up in it (galloping) instead of walking both.
    func intersection(_ other: DocScores) -> DocScores {
        if other.count > count * 16 { return galloping(into: other, otherFirst: false) }
        if count > other.count * 16 { return other.galloping(into: self, otherFirst: true) }
        var result = DocScores()
        var i = 0, j = 0
        while i < docs.count, j < other.docs.count {
            if docs[i] == other.docs[j] {
                result.docs.append(docs[i])
                result.scores.append(scores[i] + other.scores[j])
                i += 1
                j += 1
            } else if docs[i] < other.docs[j] {
                i += 1
            } else {
                j += 1
            }
        }
        return result
    }

    /// This (small) set's documents found in `other`, each searched from where the last was
    /// found with doubling steps, then a binary search. Scores add in the order `a + b` of
    /// the original call (`otherFirst`: `other`'s score first), so they equal the merge's.
    private func galloping(into other: DocScores, otherFirst: Bool) -> DocScores {
        var result = DocScores()
        var i = 0
        for j in Self.positions(of: docs, in: other.docs) {
            while docs[i] != other.docs[j] { i += 1 }
            result.docs.append(docs[i])
            result.scores.append(otherFirst ? other.scores[j] + scores[i] : scores[i] + other.scores[j])
        }
        return result
    }

    /// The first index at or after `from` whose value in `sorted` is not below `value`:
    /// doubling steps from `from`, then a binary search (galloping).
    @inline(__always)
    static func gallop(_ sorted: UnsafeBufferPointer<UInt32>, to value: UInt32, from: Int) -> Int {
        var low = from, step = 1, high = from
        while high < sorted.count, sorted[high] < value {
            low = high + 1
            high += step
            step *= 2
        }
        high = min(high, sorted.count)
        while low < high {
            let mid = (low + high) / 2
            if sorted[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// The indexes in `sorted` of the values of `wanted` (both sorted) that it holds, found by
    /// galloping through `sorted`.
    static func positions(of wanted: [UInt32], in sorted: [UInt32]) -> [Int] {
        var found: [Int] = []
        found.reserveCapacity(min(wanted.count, sorted.count))
        var low = 0
        for value in wanted {
            low = sorted.withUnsafeBufferPointer { gallop($0, to: value, from: low) }
            guard low < sorted.count else { break }
            if sorted[low] == value {
                found.append(low)
                low += 1
            }
        }
        return found
    }

    /// Documents in either, scores added.
    func union(_ other: DocScores) -> DocScores {
        if other.count == 0 { return self }
        if count == 0 { return other }
        var result = DocScores()
        result.docs.reserveCapacity(docs.count + other.docs.count)
        result.scores.reserveCapacity(docs.count + other.docs.count)
        var i = 0, j = 0
        while i < docs.count || j < other.docs.count {
            if j == other.docs.count || (i < docs.count && docs[i] < other.docs[j]) {
                result.docs.append(docs[i])
                result.scores.append(scores[i])
                i += 1
            } else if i == docs.count || other.docs[j] < docs[i] {
                result.docs.append(other.docs[j])
                result.scores.append(other.scores[j])
                j += 1
            } else {
                result.docs.append(docs[i])
                result.scores.append(scores[i] + other.scores[j])
                i += 1
                j += 1
            }
        }
        return result
    }

    /// The documents (with their scores) whose entry in `keep` is true (one per document).
    func keeping(_ keep: [Bool]) -> DocScores {
        var result = DocScores()
        for i in docs.indices where keep[i] {
            result.docs.append(docs[i])
            result.scores.append(scores[i])
        }
        return result
    }

    /// Documents of this set that are not in `other`.
    func subtracting(_ other: DocScores) -> DocScores {
        var result = DocScores()
        var j = 0
        for i in docs.indices {
            while j < other.docs.count, other.docs[j] < docs[i] { j += 1 }
            if j < other.docs.count, other.docs[j] == docs[i] { continue }
            result.docs.append(docs[i])
            result.scores.append(scores[i])
        }
        return result
    }
}
