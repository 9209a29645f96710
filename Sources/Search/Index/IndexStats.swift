import Foundation
import KirokuLog
import KirokuProjections

/// The view's counters (table `search-meta`, key `stats`): live documents, the next doc
/// number, the total length of each text field (for BM25's average length), where the search
/// for a free doc number resumes, and the postings that removals did not find.
struct IndexStats {
    var documents: UInt64 = 0
    var nextDoc: UInt32 = 1
    var totalLength: [Int: UInt64] = [:]
    /// Once `nextDoc` has reached ``lastDoc``, new documents take numbers freed by deletes and
    /// updates, searched from here.
    var reuseFrom: UInt32 = 1
    /// Documents a removal did not find in a term's postings (0 in a sound index).
    var missingPostings: UInt64 = 0

    /// The highest doc number.
    static let lastDoc = UInt32.max - 1

    static let key = Array("stats".utf8)
    static let schemaKey = Array("schema".utf8)

    init(_ txn: KeyValueTransaction) throws {
        guard let bytes = try txn.get(Self.key, in: SearchTables.meta) else { return }
        bytes.withUnsafeBytes { raw in
            var reader = ByteReader(raw)
            documents = reader.varint()
            nextDoc = UInt32(reader.varint())
            for _ in 0..<reader.varint() {
                let field = Int(reader.varint())
                totalLength[field] = reader.varint()
            }
            // Written since format 1.1; absent in older views.
            if !reader.atEnd {
                reuseFrom = UInt32(clamping: reader.varint())
                missingPostings = reader.varint()
            }
        }
    }

    func save(_ txn: KeyValueTransaction) throws {
        var writer = ByteWriter()
        writer.varint(documents)
        writer.varint(nextDoc)
        writer.varint(totalLength.count)
        for (field, length) in totalLength.sorted(by: { $0.key < $1.key }) {
            writer.varint(field)
            writer.varint(length)
        }
        writer.varint(reuseFrom)
        writer.varint(missingPostings)
        try txn.put(Self.key, writer.bytes, in: SearchTables.meta)
    }

    /// A number for a new document: the next one, or, once every number has been handed out,
    /// the lowest one no live document holds (deletes and updates free theirs), so the view
    /// never runs out while it holds fewer than ``lastDoc`` documents.
    ///
    /// - Throws: ``KirokuError/Code/mappingFailed`` when every number is held by a live document.
    mutating func allocateDoc(_ txn: KeyValueTransaction) throws -> UInt32 {
        if nextDoc <= Self.lastDoc {
            defer { nextDoc += 1 }
            return nextDoc
        }
        for start in [reuseFrom, 1] {
            var candidate = max(start, 1)
            try txn.forEach(in: SearchTables.docs, prefix: [], from: IndexKey.doc(candidate)) { key, _ in
                let held = IndexKey.readDoc(key, at: 0)
                guard held == candidate else { return false }
                candidate = held &+ 1
                return candidate <= Self.lastDoc
            }
            if candidate >= 1, candidate <= Self.lastDoc {
                reuseFrom = candidate &+ 1
                return candidate
            }
        }
        throw KirokuError(.mappingFailed, "The search view holds \(documents) documents, every document number it has (\(Self.lastDoc)); delete documents or split the view.")
    }

    func averageLength(_ field: Int) -> Double {
        documents == 0 ? 1 : max(1, Double(totalLength[field] ?? 0) / Double(documents))
    }

    /// The schema the view was built with, so readers need no mapping.
    static func schema(_ txn: KeyValueTransaction) throws -> [SearchMapping.Field]? {
        guard let bytes = try txn.get(schemaKey, in: SearchTables.meta) else { return nil }
        if let known = decodedSchemas.withLock({ $0[bytes] }) { return known }
        let fields = try JSONDecoder().decode([SearchMapping.Field].self, from: Data(bytes))
        decodedSchemas.withLock { cache in
            if cache.count > 64 { cache.removeAll() }
            cache[bytes] = fields
        }
        return fields
    }

    /// Schemas decoded so far, by their bytes (a view's schema never changes: queries skip the
    /// JSON decoding it showed as 5% of a term query's time).
    private static let decodedSchemas = Locked<[[UInt8]: [SearchMapping.Field]]>([:])

    /// Saves the schema when the view is new (and marks it as keeping doc values); returns
    /// whether the view keeps doc values (views written before them do not).
    ///
    /// - Throws: ``KirokuError/Code/invalidMapping`` when the view was built with another type
    ///   or analysis (``SearchMapping/Field/foldKana``) of a field than the mapping gives now:
    ///   its index holds the terms of the old one, and a mapping change is a new view version
    ///   (blue/green), never a silent reinterpretation of what is indexed.
    @discardableResult
    static func saveSchema(_ fields: [SearchMapping.Field], _ txn: KeyValueTransaction) throws -> Bool {
        if let stored = try schema(txn) {
            for field in fields {
                guard let old = stored.first(where: { $0.name == field.name }) else { continue }
                if old.type != field.type || old.foldKana != field.foldKana {
                    throw KirokuError(.invalidMapping, "Field \"\(field.name)\" of this view was indexed as \(old.type.rawValue)\(old.foldKana ? " with foldKana" : ""), and the mapping now says \(field.type.rawValue)\(field.foldKana ? " with foldKana" : ""); the index holds the old analysis. Give the view a new version (kiroku view create, or a higher SearchView version) so it is rebuilt blue/green.")
                }
            }
            return try hasDocValues(txn)
        }
        try txn.put(schemaKey, Array(try JSONEncoder().encode(fields)), in: SearchTables.meta)
        try txn.put(DocValues.flagKey, [1], in: SearchTables.meta)
        return true
    }

    /// Whether the view keeps doc values for every document (``DocValues``).
    static func hasDocValues(_ txn: KeyValueTransaction) throws -> Bool {
        try txn.get(DocValues.flagKey, in: SearchTables.meta) != nil
    }
}
