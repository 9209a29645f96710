import KirokuLog
import KirokuProjections

/// Reads hits' values of number, date and keyword fields for one query: from the view's
/// ``DocValues`` blocks (each decoded once, kept while the hits of its block are read: they come
/// in doc order), or, in a view written before doc values, from each hit's stored document.
final class DocValueReader {
    private let txn: KeyValueTransaction
    /// Whether the view keeps doc values (else stored documents are read).
    let columnar: Bool
    private var numbers: [Int: (block: UInt32, values: DocValues.Numbers?)] = [:]
    private var keywords: [Int: (block: UInt32, values: DocValues.Keywords?)] = [:]

    init(txn: KeyValueTransaction) throws {
        self.txn = txn
        columnar = try IndexStats.hasDocValues(txn)
    }

    /// The number or date a document holds in a field.
    func number(_ field: Int, _ doc: UInt32) throws -> Double? {
        guard columnar else { return try stored(field, doc)?.number }
        let block = doc / SearchTables.normsPerBlock
        if numbers[field]?.block != block {
            let values = try txn.withValue(DocValues.key(field, block: block), in: SearchTables.values) { $0.map(DocValues.Numbers.init(decoding:)) }
            numbers[field] = (block, values)
        }
        return numbers[field]!.values?.value(Int(doc % SearchTables.normsPerBlock))
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
        // Per block: counts by the block's own value numbers, added up by value at its end.
        var index = 0
        while index < docs.count {
            let block = docs[index] / SearchTables.normsPerBlock
            let (values, _) = try keywordBlock(field, docs[index])
            var local = [Int](repeating: 0, count: values?.dictionary.count ?? 0)
            while index < docs.count, docs[index] / SearchTables.normsPerBlock == block {
                if let values {
                    for ordinal in values.values(Int(docs[index] % SearchTables.normsPerBlock)) { local[ordinal] += 1 }
                }
                index += 1
            }
            if let values {
                for (ordinal, count) in local.enumerated() where count > 0 { counts[values.dictionary[ordinal], default: 0] += count }
            }
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
