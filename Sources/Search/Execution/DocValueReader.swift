import KirokuLog
import KirokuProjections

/// Reads hits' values of number, date and keyword fields for one query: from the view's
/// ``DocValues`` blocks (each decoded once, kept while the hits of its block are read: they come
/// in doc order), or, in a view written before doc values, from each hit's stored document.
final class DocValueReader {
    private let txn: KeyValueTransaction
    /// Whether the view keeps doc values (else stored documents are read).
    let columnar: Bool
    private var keywords: [Int: (block: UInt32, values: DocValues.Keywords?)] = [:]

    init(txn: KeyValueTransaction) throws {
        self.txn = txn
        columnar = try IndexStats.hasDocValues(txn)
    }

    /// Visits the number or date each of `docs` (in doc order) holds in a field, with the
    /// document's index in `docs`: each block read in place once, no lookup per document.
    func forEachNumber(_ field: Int, of docs: [UInt32], _ body: (Int, Double?) throws -> Void) throws {
        guard columnar else {
            for (i, doc) in docs.enumerated() { try body(i, try stored(field, doc)?.number) }
            return
        }
        try forEachBlock(of: docs) { block, range in
            try txn.withValue(DocValues.key(field, block: block), in: SearchTables.values) { bytes in
                for i in range {
                    try body(i, bytes.flatMap { DocValues.Numbers.value(in: $0, slot: Int(docs[i] % SearchTables.normsPerBlock)) })
                }
            }
        }
    }

    /// Visits each value of a keyword field that each of `docs` (in doc order) holds, read in
    /// place from its block: `block` gets, at each block, how many distinct values the block's
    /// dictionary holds; `body` gets the hit's index in `docs`, the value's number in that
    /// dictionary, its bytes on demand, and the hit's value of number field `number` when one is
    /// given (read from that field's block alongside). A hit's values are distinct. What grouping
    /// by value needs: a byte string is made only when asked for (once per block and value, say).
    func forEachKeywordValue(_ field: Int, of docs: [UInt32], with number: Int? = nil, block: (Int) throws -> Void,
                             _ body: (_ hit: Int, _ ordinal: Int, _ bytes: () -> [UInt8], _ number: Double?) throws -> Void) throws {
        guard columnar else {
            try forEachKeywords(field, of: docs) { i, values in
                let value = try number.flatMap { try stored($0, docs[i])?.number }
                try block(values.count)
                for (ordinal, bytes) in values.enumerated() { try body(i, ordinal, { bytes }, value) }
            }
            return
        }
        var ranges: [Range<Int>] = []
        try forEachBlock(of: docs) { blockNumber, range in
            try txn.withValue(DocValues.key(field, block: blockNumber), in: SearchTables.values) { bytes in
                guard let bytes else { return }
                let start = DocValues.Keywords.dictionary(bytes, into: &ranges)
                try block(ranges.count)
                func visit(_ numbers: UnsafeRawBufferPointer?) throws {
                    try DocValues.Keywords.forEachValue(bytes, from: start, slots: docs[range].lazy.map { Int($0 % SearchTables.normsPerBlock) }) { position, ordinal in
                        let hit = range.lowerBound + position
                        try body(hit, ordinal, { [UInt8](UnsafeRawBufferPointer(rebasing: bytes[ranges[ordinal]])) },
                                 numbers.flatMap { DocValues.Numbers.value(in: $0, slot: Int(docs[hit] % SearchTables.normsPerBlock)) })
                    }
                }
                if let number {
                    try txn.withValue(DocValues.key(number, block: blockNumber), in: SearchTables.values) { try visit($0) }
                } else {
                    try visit(nil)
                }
            }
        }
    }

    /// Visits the distinct keywords (their bytes) each of `docs` (in doc order) holds in a
    /// field, with the document's index in `docs`: each block decoded once.
    func forEachKeywords(_ field: Int, of docs: [UInt32], _ body: (Int, [[UInt8]]) throws -> Void) throws {
        guard columnar else {
            for (i, doc) in docs.enumerated() {
                if case .keywords(let values)? = try stored(field, doc) {
                    var seen = Set<[UInt8]>()
                    try body(i, values.map { Array($0.utf8) }.filter { seen.insert($0).inserted })
                } else {
                    try body(i, [])
                }
            }
            return
        }
        try forEachBlock(of: docs) { block, range in
            let decoded = try txn.withValue(DocValues.key(field, block: block), in: SearchTables.values) { $0.map(DocValues.Keywords.init(decoding:)) }
            for i in range {
                guard let decoded else { try body(i, []); continue }
                try body(i, decoded.values(Int(docs[i] % SearchTables.normsPerBlock)).map { decoded.dictionary[$0] })
            }
        }
    }

    /// The first keyword a document holds in a field (what sorting by the field uses).
    func firstKeyword(_ field: Int, _ doc: UInt32) throws -> String? {
        guard columnar else {
            if case .keywords(let values)? = try stored(field, doc) { return values.first }
            return nil
        }
        let (block, slot) = try keywordBlock(field, doc)
        guard let ordinal = block?.values(slot).first else { return nil }
        return String(decoding: block!.dictionary[ordinal], as: UTF8.self)
    }

    /// How many of `docs` (in doc order) hold each value of a keyword field; a document counts
    /// once per distinct value. Values are told apart by their bytes.
    func facetCounts(_ field: Int, _ docs: [UInt32]) throws -> [[UInt8]: Int] {
        var counts: [[UInt8]: Int] = [:]
        guard columnar else {
            for doc in docs {
                guard case .keywords(let values)? = try stored(field, doc) else { continue }
                for value in Set(values.map { Array($0.utf8) }) { counts[value, default: 0] += 1 }
            }
            return counts
        }
        // Per block, read in place: the hits' slots counted by the block's own value numbers,
        // added up by value at the block's end (no decoding of slots past the last hit).
        var local: [Int] = []
        var ranges: [Range<Int>] = []
        var byValue: [ByteKey: Int] = [:]
        try forEachBlock(of: docs) { block, range in
            try txn.withValue(DocValues.key(field, block: block), in: SearchTables.values) { bytes in
                guard let bytes else { return }
                DocValues.Keywords.count(bytes, slots: docs[range].lazy.map { Int($0 % SearchTables.normsPerBlock) }, into: &local, ranges: &ranges) { value, count in
                    byValue[ByteKey(value), default: 0] += count
                }
            }
        }
        for (value, count) in byValue { counts[value.bytes] = count }
        return counts
    }

    /// Visits the runs of `docs` (in doc order) that fall in one block: the block's number and
    /// the run's indices in `docs`.
    private func forEachBlock(of docs: [UInt32], _ body: (UInt32, Range<Int>) throws -> Void) rethrows {
        var index = 0
        while index < docs.count {
            let block = docs[index] / SearchTables.normsPerBlock
            var end = index + 1
            while end < docs.count, docs[end] / SearchTables.normsPerBlock == block { end += 1 }
            try body(block, index..<end)
            index = end
        }
    }

    private func keywordBlock(_ field: Int, _ doc: UInt32) throws -> (DocValues.Keywords?, Int) {
        let block = doc / SearchTables.normsPerBlock
        if keywords[field]?.block != block {
            let values = try txn.withValue(DocValues.key(field, block: block), in: SearchTables.values) { $0.map(DocValues.Keywords.init(decoding:)) }
            keywords[field] = (block, values)
        }
        return (keywords[field]!.values, Int(doc % SearchTables.normsPerBlock))
    }

    private func stored(_ field: Int, _ doc: UInt32) throws -> FieldValue? {
        try txn.withValue(IndexKey.doc(doc), in: SearchTables.docs) { bytes in bytes.flatMap { StoredDocument.value(of: field, in: $0) } }
    }
}
