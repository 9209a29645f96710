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

    /// Documents in both, scores added.
    func intersection(_ other: DocScores) -> DocScores {
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

    /// Documents in either, scores added.
    func union(_ other: DocScores) -> DocScores {
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

    /// The documents (with their scores) for which `keep` holds.
    func filter(_ keep: (UInt32) throws -> Bool) rethrows -> DocScores {
        var result = DocScores()
        for (doc, score) in zip(docs, scores) where try keep(doc) {
            result.docs.append(doc)
            result.scores.append(score)
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
