import Foundation
import Log

/// The view's counters (table `search-meta`, key `stats`): live documents, the next doc
/// number, and the total length of each text field (for BM25's average length).
struct IndexStats {
    var documents: UInt64 = 0
    var nextDoc: UInt32 = 1
    var totalLength: [Int: UInt64] = [:]

    static let key = Array("stats".utf8)
    static let schemaKey = Array("schema".utf8)

    init() {}

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
        try txn.put(Self.key, writer.bytes, in: SearchTables.meta)
    }

    func averageLength(_ field: Int) -> Double {
        documents == 0 ? 1 : max(1, Double(totalLength[field] ?? 0) / Double(documents))
    }

    /// The schema the view was built with, so readers need no mapping.
    static func schema(_ txn: KeyValueTransaction) throws -> [SearchMapping.Field]? {
        try txn.get(schemaKey, in: SearchTables.meta).map { try JSONDecoder().decode([SearchMapping.Field].self, from: Data($0)) }
    }

    static func saveSchema(_ fields: [SearchMapping.Field], _ txn: KeyValueTransaction) throws {
        guard try txn.get(schemaKey, in: SearchTables.meta) == nil else { return }
        try txn.put(schemaKey, Array(try JSONEncoder().encode(fields)), in: SearchTables.meta)
    }
}
