import Foundation
import KirokuLog
import KirokuProjections

extension SearchMapping {
    /// A mapping declared in JSON:
    ///
    /// ```json
    /// {
    ///   "types": ["ActivityLogged", "ActivityEdited"],
    ///   "id": "key",
    ///   "fields": {
    ///     "text":   {"path": "$.text",   "type": "text"},
    ///     "owner":  {"path": "$.owner",  "type": "keyword"},
    ///     "amount": {"path": "$.amount", "type": "number"},
    ///     "date":   {"path": "$.date",   "type": "date"},
    ///     "kind":   {"path": "@type",    "type": "keyword"}
    ///   },
    ///   "deleteOn": ["ActivityDeleted"]
    /// }
    /// ```
    ///
    /// `id` is `"key"` (one document per partition key), `"event"` (one per record: the
    /// event's id, else its position) or a JSON path into the payload. Paths are `$.a.b`,
    /// `$.a[0]`, `$.tags[*]`, or a record attribute: `@key`, `@type`, `@timestamp`,
    /// `@position`, `@version`, `@id`. Fields are stored in name order.
    ///
    /// - Throws: ``KirokuError/Code/invalidMapping`` naming what is wrong and how to fix it.
    public init(json: Data) throws {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: json) } catch {
            throw KirokuError(.invalidMapping, "The search mapping is not valid JSON (\(error.localizedDescription)); see docs/SEARCH.md for its shape.")
        }
        guard let root = object as? [String: Any] else {
            throw KirokuError(.invalidMapping, "A search mapping is a JSON object with \"fields\" (and optionally \"types\", \"id\", \"deleteOn\"); see docs/SEARCH.md.")
        }
        let known: Set<String> = ["types", "id", "fields", "deleteOn"]
        if let unknown = root.keys.sorted().first(where: { !known.contains($0) }) {
            throw KirokuError(.invalidMapping, "Unknown key \"\(unknown)\" in the search mapping; the keys are types, id, fields and deleteOn.")
        }
        func strings(_ key: String) throws -> [String]? {
            guard let value = root[key] else { return nil }
            guard let list = value as? [String], !list.isEmpty else {
                throw KirokuError(.invalidMapping, "\"\(key)\" in the search mapping must be a non-empty array of event type names.")
            }
            return list
        }
        let types = try strings("types")
        let deleteOn = Set(try strings("deleteOn") ?? [])
        guard let fieldObjects = root["fields"] as? [String: Any], !fieldObjects.isEmpty else {
            throw KirokuError(.invalidMapping, "The search mapping needs \"fields\": an object of name → {\"path\": ..., \"type\": \"text|keyword|number|date\"}.")
        }
        var fields: [Field] = []
        var collectedPaths: [JSONPath] = []
        for name in fieldObjects.keys.sorted() {
            guard let spec = fieldObjects[name] as? [String: Any], let pathText = spec["path"] as? String,
                  let typeText = spec["type"] as? String else {
                throw KirokuError(.invalidMapping, "Field \"\(name)\" needs {\"path\": \"$.…\", \"type\": \"text|keyword|number|date\"}.")
            }
            guard let type = FieldType(rawValue: typeText) else {
                throw KirokuError(.invalidMapping, "Field \"\(name)\" has type \"\(typeText)\"; use text, keyword, number or date.")
            }
            let known: Set<String> = ["path", "type", "foldKana"]
            if let unknown = spec.keys.sorted().first(where: { !known.contains($0) }) {
                throw KirokuError(.invalidMapping, "Field \"\(name)\" has an unknown key \"\(unknown)\"; a field takes path, type and (text fields) foldKana.")
            }
            var foldKana = false
            if let fold = spec["foldKana"] {
                guard let flag = fold as? Bool else {
                    throw KirokuError(.invalidMapping, "Field \"\(name)\": foldKana must be true or false.")
                }
                guard type == .text else {
                    throw KirokuError(.invalidMapping, "Field \"\(name)\" is a \(type.rawValue) field; foldKana applies to text fields only.")
                }
                foldKana = flag
            }
            fields.append(Field(name, type, foldKana: foldKana))
            collectedPaths.append(try JSONPath(pathText, field: name))
        }
        let idSource: IDSource
        switch root["id"] {
        case nil, "key" as String: idSource = .key
        case "event" as String: idSource = .event
        case let path as String: idSource = .path(try JSONPath(path, field: "id"))
        default:
            throw KirokuError(.invalidMapping, "\"id\" must be \"key\", \"event\" or a JSON path such as \"$.activityId\".")
        }
        let schema = fields
        let paths = collectedPaths
        let selected = types.map(Set.init)
        let document: @Sendable (Record) throws -> Change? = { record in
            if deleteOn.contains(record.type) {
                return .delete(id: try idSource.id(of: record, payload: try? JSONMapping.payload(of: record)))
            }
            if let selected, !selected.contains(record.type) { return nil }
            let payload = try JSONMapping.payload(of: record)
            var values: [String: FieldValue] = [:]
            for (field, path) in zip(schema, paths) {
                let found = path.values(in: payload, record: record)
                guard !found.isEmpty else { continue }
                values[field.name] = try JSONMapping.convert(found, to: field, record: record)
            }
            return .upsert(id: try idSource.id(of: record, payload: payload), fields: values)
        }
        try Self.validate(fields)
        self.init(fields: fields, types: types.map { Array(Set($0).union(deleteOn)).sorted() }, document: document, json: json)
    }

    private init(fields: [Field], types: [String]?, document: @escaping @Sendable (Record) throws -> Change?, json: Data?) {
        self.fields = fields
        self.types = types
        self.document = document
        self.json = json
    }

    /// Reads a mapping from a JSON file.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw KirokuError(.invalidMapping, "Cannot read the search mapping \(url.path): \(error.localizedDescription).")
        }
        try self.init(json: data)
    }
}

/// Where a document's id comes from.
enum IDSource: Sendable {
    case key, event, path(JSONPath)

    func id(of record: Record, payload: JSONValue?) throws -> String {
        switch self {
        case .key: return record.key
        case .event: return record.id ?? String(record.position)
        case .path(let path):
            guard let value = path.values(in: payload ?? .null, record: record).first, let id = value.text else {
                throw KirokuError(.mappingFailed, "Record \(record.position) (\(record.type)) has no document id at \(path.text); every mapped event needs one.", position: record.position)
            }
            return id
        }
    }
}

enum JSONMapping {
    static func payload(of record: Record) throws -> JSONValue {
        do { return try JSONValue.parse(record.payload) } catch let error as JSONValue.Invalid {
            throw KirokuError(.mappingFailed, "Record \(record.position) (\(record.type)) has a payload that is not JSON (\(error.reason) at byte \(error.offset)); a JSON mapping reads JSON payloads. Map it with a Swift closure, or leave its type out of \"types\".", position: record.position)
        }
    }

    static func convert(_ values: [JSONValue], to field: SearchMapping.Field, record: Record) throws -> FieldValue {
        func fail(_ value: JSONValue?) -> KirokuError {
            KirokuError(.mappingFailed, "Record \(record.position) (\(record.type)): field \"\(field.name)\" is \(field.type.rawValue) but the payload has \(value.map(describe) ?? "nothing"). Fix the event, or map the field with another type in a new view version.", position: record.position)
        }
        func text(_ value: JSONValue) throws -> String {
            guard let text = value.text else { throw fail(value) }
            return text
        }
        switch field.type {
        case .text:
            return .text(try values.map(text).joined(separator: "\n"))
        case .keyword:
            return .keywords(try values.map(text))
        case .number:
            switch values.first {
            case .number(let number)?: return .number(number)
            case .string(let string)?: if let number = Double(string), number.isFinite { return .number(number) }
            default: break
            }
            throw fail(values.first)
        case .date:
            switch values.first {
            case .number(let number)?: return .date(DateValue.epoch(number))
            case .string(let string)?: if let seconds = DateValue.parse(string) { return .date(seconds) }
            default: break
            }
            throw fail(values.first)
        }
    }

    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let bool): return "\(bool)"
        case .number(let number): return "\(number)"
        case .string(let string): return "\"\(string.prefix(40))\""
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
