import KirokuProjections
/// A document as the view stores it (table `search-docs`, doc number → this): its id and the
/// values of its fields. It is the stored fields of results, the doc values of filters, sorts
/// and facets, and what an update or delete re-analyzes to remove the old postings.
struct StoredDocument: Sendable, Hashable {
    var id: String
    /// Values by field index.
    var values: [Int: FieldValue]

    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 128)
        writer.string(id)
        writer.varint(values.count)
        for (field, value) in values.sorted(by: { $0.key < $1.key }) {
            writer.bytes.append(UInt8(field))
            switch value {
            case .text(let text):
                writer.bytes.append(0)
                writer.string(text)
            case .keywords(let keywords):
                writer.bytes.append(1)
                writer.varint(keywords.count)
                for keyword in keywords { writer.string(keyword) }
            case .number(let number):
                writer.bytes.append(2)
                writer.double(number)
            case .date(let date):
                writer.bytes.append(3)
                writer.double(date)
            }
        }
        return writer.bytes
    }

    init(id: String, values: [Int: FieldValue]) {
        self.id = id
        self.values = values
    }

    init(decoding bytes: UnsafeRawBufferPointer) {
        var reader = ByteReader(bytes)
        id = reader.string()
        values = [:]
        for _ in 0..<reader.varint() {
            let field = Int(bytes[reader.offset])
            reader.offset += 1
            values[field] = Self.value(&reader)
        }
    }

    /// The value of one field, decoding nothing else but the id's length.
    static func value(of field: Int, in bytes: UnsafeRawBufferPointer) -> FieldValue? {
        var reader = ByteReader(bytes)
        reader.skipString()
        for _ in 0..<reader.varint() {
            let current = Int(bytes[reader.offset])
            reader.offset += 1
            if current == field { return value(&reader) }
            skipValue(&reader)
        }
        return nil
    }

    private static func value(_ reader: inout ByteReader) -> FieldValue {
        let kind = reader.bytes[reader.offset]
        reader.offset += 1
        switch kind {
        case 0: return .text(reader.string())
        case 1: return .keywords((0..<reader.varint()).map { _ in reader.string() })
        case 2: return .number(reader.double())
        default: return .date(reader.double())
        }
    }

    private static func skipValue(_ reader: inout ByteReader) {
        let kind = reader.bytes[reader.offset]
        reader.offset += 1
        switch kind {
        case 0: reader.skipString()
        case 1: for _ in 0..<reader.varint() { reader.skipString() }
        default: reader.offset += 8
        }
    }
}
