/// Matching documents in doc-number order, each with its score.
struct DocScores {
    var docs: [UInt32] = []
    var scores: [Float] = []

    var count: Int { docs.count }

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
