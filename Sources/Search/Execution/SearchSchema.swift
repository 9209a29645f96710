import KirokuLog

/// A view's fields as the queries see them: names resolved to their index and type, the
/// fields a query without a field looks in, and the error of a query that names a field
/// wrongly. Execution, ordering and facets share it.
struct SearchSchema {
    let fields: [SearchMapping.Field]

    /// The `invalid-query` error, with what is wrong.
    static func invalid(_ what: String) -> KirokuError {
        KirokuError(.invalidQuery, "Invalid query: \(what).")
    }

    /// The index and declaration of the field called `name`.
    ///
    /// - Throws: ``KirokuError/Code/invalidQuery`` naming the fields there are.
    func resolve(_ name: String) throws -> (Int, SearchMapping.Field) {
        guard let index = fields.firstIndex(where: { $0.name == name }) else {
            throw Self.invalid("unknown field '\(name)'; the fields are \(fields.map(\.name).joined(separator: ", "))")
        }
        return (index, fields[index])
    }

    /// The fields a query on `name` looks in: that field, or every text field.
    func targets(_ name: String?) throws -> [(Int, SearchMapping.FieldType)] {
        if let name { return [try resolve(name)].map { ($0.0, $0.1.type) } }
        return textFields.map { ($0, .text) }
    }

    /// The indices of the text fields.
    var textFields: [Int] { fields.indices.filter { fields[$0].type == .text } }
}
