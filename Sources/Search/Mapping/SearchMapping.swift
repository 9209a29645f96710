import KirokuFeed
import Foundation
import KirokuLog
import KirokuProjections

/// How a search view makes documents from records: which fields, of which types, where each
/// document's id comes from, and which event types delete a document.
///
/// Declare it in JSON (see `docs/SEARCH.md`) with ``init(json:)``, or in Swift with
/// ``init(fields:types:document:)`` and a closure.
public struct SearchMapping: Sendable {
    /// The type of a field, which decides how it is indexed and queried.
    public enum FieldType: String, Sendable, Codable, CaseIterable {
        /// Analyzed full text: terms, phrases, prefixes, BM25, snippets.
        case text
        /// Exact values (one or several per document): filters, facets, sorting.
        case keyword
        /// Numbers: ranges and sorting.
        case number
        /// Instants (ISO 8601 strings or epoch numbers): ranges and sorting.
        case date
    }

    /// One field of the schema.
    public struct Field: Sendable, Hashable, Codable {
        /// Its name: 1 to 64 characters of letters, digits, `_` and `-`.
        public var name: String
        /// Its type.
        public var type: FieldType
        /// Text fields: katakana and hiragana fold to one form (see ``Analyzer``), in the
        /// index and in queries. Changing it is a new view version: the index holds the terms
        /// of the analysis it was built with.
        public var foldKana: Bool

        /// Makes a field.
        public init(_ name: String, _ type: FieldType, foldKana: Bool = false) {
            self.name = name
            self.type = type
            self.foldKana = foldKana
        }

        enum CodingKeys: String, CodingKey { case name, type, foldKana }

        /// Decodes a field; a view's schema stored before `foldKana` existed has none (false).
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            type = try container.decode(FieldType.self, forKey: .type)
            foldKana = try container.decodeIfPresent(Bool.self, forKey: .foldKana) ?? false
        }

        /// Encodes a field; `foldKana` only when set, so schemas without it keep their bytes.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(type, forKey: .type)
            if foldKana { try container.encode(true, forKey: .foldKana) }
        }
    }

    /// What one record does to the view.
    public enum Change: Sendable {
        /// Creates the document `id`, or updates it: the fields given replace the document's
        /// values of those fields; fields not given keep their values.
        case upsert(id: String, fields: [String: FieldValue])
        /// Removes the document `id` (nothing happens when there is none).
        case delete(id: String)
    }

    /// The fields, in a fixed order (their index in storage).
    public let fields: [Field]
    /// The event types read from the log (`nil`: all).
    public let types: [String]?
    /// Makes the change for one record, or `nil` to ignore the record.
    public let document: @Sendable (Record) throws -> Change?
    /// The JSON form, when the mapping came from JSON.
    public let json: Data?

    /// A mapping written in Swift.
    ///
    /// ```swift
    /// let mapping = SearchMapping(fields: [.init("title", .text), .init("owner", .keyword)],
    ///                             types: ["NoteSaved"]) { record in
    ///     let note = try record.decode(Note.self)
    ///     return .upsert(id: record.key, fields: ["title": .text(note.title), "owner": .keyword(note.owner)])
    /// }
    /// ```
    public init(fields: [Field], types: [String]? = nil, document: @escaping @Sendable (Record) throws -> Change?) throws {
        self.fields = fields
        self.types = types
        self.document = document
        self.json = nil
        try Self.validate(fields)
    }

    /// The fields' schema by name.
    func field(named name: String) -> (index: Int, field: Field)? {
        fields.firstIndex { $0.name == name }.map { ($0, fields[$0]) }
    }

    static func validate(_ fields: [Field]) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
        guard !fields.isEmpty, fields.count <= 200 else {
            throw KirokuError(.invalidMapping, "A search mapping has \(fields.count) fields; give 1 to 200.")
        }
        var seen: Set<String> = []
        for field in fields {
            guard !field.name.isEmpty, field.name.count <= 64, field.name.allSatisfy({ allowed.contains($0) }) else {
                throw KirokuError(.invalidMapping, "'\(field.name)' cannot name a search field: use 1 to 64 letters, digits, '_' or '-'.")
            }
            guard seen.insert(field.name).inserted else {
                throw KirokuError(.invalidMapping, "The search field '\(field.name)' is declared twice; give each field one name.")
            }
        }
    }
}

/// A value of a document field.
public enum FieldValue: Sendable, Hashable {
    /// Text for a text field.
    case text(String)
    /// One or more exact values for a keyword field.
    case keywords([String])
    /// A number.
    case number(Double)
    /// An instant, as seconds since 1970.
    case date(Double)

    /// One exact value for a keyword field.
    public static func keyword(_ value: String) -> FieldValue { .keywords([value]) }

    /// Whether two values are the same byte for byte (`==` compares strings as Swift does:
    /// `café` composed and decomposed are equal, but the index keeps and matches their bytes).
    func identical(to other: FieldValue?) -> Bool {
        switch (self, other) {
        case (.text(let a), .text(let b)?): return a.utf8Equals(b)
        case (.keywords(let a), .keywords(let b)?): return a.count == b.count && zip(a, b).allSatisfy { $0.utf8Equals($1) }
        case (.number(let a), .number(let b)?), (.date(let a), .date(let b)?): return a.bitPattern == b.bitPattern
        default: return false
        }
    }

    /// Whether the view keeps the value as a doc value (keywords, numbers, dates).
    var hasDocValue: Bool {
        if case .text = self { return false }
        return true
    }

    /// The value as a number, for number and date fields.
    var number: Double? {
        switch self {
        case .number(let value), .date(let value): return value
        default: return nil
        }
    }
}
