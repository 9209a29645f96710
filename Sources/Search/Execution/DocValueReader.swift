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
        var index = 0
        while index < docs.count {
            let block = docs[index] / SearchTables.normsPerBlock
            var end = index
            while end < docs.count, docs[end] / SearchTables.normsPerBlock == block { end += 1 }
            let first = index
            try txn.withValue(DocValues.key(field, block: block), in: SearchTables.values) { bytes in
                for i in first..<end {
                    try body(i, bytes.flatMap { DocValues.Numbers.value(in: $0, slot: Int(docs[i] % SearchTables.normsPerBlock)) })
                }
            }
            index = end
        }
    }

    /// Visits each of `docs` (in doc order) with its distinct keywords in a field as numbers
    /// into the current block's dictionary, which `block` gets first (each block decoded once,
    /// no byte string made per document): what counting by value needs.
    func forEachKeywordOrdinals(_ field: Int, of docs: [UInt32], block: ([[UInt8]]) throws -> Void,
                                _ body: (Int, ArraySlice<Int>) throws -> Void) throws {
        guard columnar else {
            try forEachKeywords(field, of: docs) { i, values in
                try block(values)
                try body(i, ArraySlice(values.indices))
            }
            return
        }
        var index = 0
        let none = ArraySlice<Int>()
        while index < docs.count {
            let number = docs[index] / SearchTables.normsPerBlock
            var end = index
            while end < docs.count, docs[end] / SearchTables.normsPerBlock == number { end += 1 }
            let decoded = try txn.withValue(DocValues.key(field, block: number), in: SearchTables.values) { $0.map(DocValues.Keywords.init(decoding:)) }
            try block(decoded?.dictionary ?? [])
            for i in index..<end {
                try body(i, decoded?.values(Int(docs[i] % SearchTables.normsPerBlock)) ?? none)
            }
            index = end
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
        var index = 0
        while index < docs.count {
            let block = docs[index] / SearchTables.normsPerBlock
            var end = index
            while end < docs.count, docs[end] / SearchTables.normsPerBlock == block { end += 1 }
            let decoded = try txn.withValue(DocValues.key(field, block: block), in: SearchTables.values) { $0.map(DocValues.Keywords.init(decoding:)) }
            for i in index..<end {
                guard let decoded else { try body(i, []); continue }
                try body(i, decoded.values(Int(docs[i] % SearchTables.normsPerBlock)).map { decoded.dictionary[$0] })
            }
            index = end
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
        var index = 0
        var local: [Int] = []
        while index < docs.count {
            let block = docs[index] / SearchTables.normsPerBlock
            var end = index
            while end < docs.count, docs[end] / SearchTables.normsPerBlock == block { end += 1 }
            try txn.withValue(DocValues.key(field, block: block), in: SearchTables.values) { bytes in
                guard let bytes else { return }
                DocValues.Keywords.count(bytes, slots: docs[index..<end].lazy.map { Int($0 % SearchTables.normsPerBlock) }, into: &local) { ordinal, count in
                    counts[ordinal, default: 0] += count
                }
            }
            index = end
        }
        return counts
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
