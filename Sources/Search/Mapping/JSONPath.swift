import Foundation
import KirokuLog
import KirokuProjections

/// A path into a JSON payload (`$.a.b`, `$.a[0]`, `$.tags[*]`) or a record attribute
/// (`@key`, `@type`, `@timestamp`, `@position`, `@version`, `@id`).
struct JSONPath: Sendable, Hashable {
    enum Step: Sendable, Hashable { case member(String), index(Int), all }
    enum Attribute: String, Sendable { case key, type, timestamp, position, version, id }

    let text: String
    let steps: [Step]
    let attribute: Attribute?

    init(_ text: String, field: String) throws {
        self.text = text
        if text.hasPrefix("@") {
            guard let attribute = Attribute(rawValue: String(text.dropFirst())) else {
                throw KirokuError(.invalidMapping, "Field \"\(field)\": \(text) is not a record attribute; use @key, @type, @timestamp, @position, @version or @id.")
            }
            self.attribute = attribute
            self.steps = []
            return
        }
        attribute = nil
        var steps: [Step] = []
        var rest = Substring(text)
        func fail(_ why: String) -> KirokuError {
            KirokuError(.invalidMapping, "Field \"\(field)\": the path \(text) is not valid (\(why)); write $.name, $.a.b, $.list[0] or $.list[*].")
        }
        guard rest.first == "$" else { throw fail("it must start with $") }
        rest = rest.dropFirst()
        while let first = rest.first {
            if first == "." {
                rest = rest.dropFirst()
                let name = rest.prefix { $0 != "." && $0 != "[" }
                guard !name.isEmpty else { throw fail("a name is missing after '.'") }
                steps.append(.member(String(name)))
                rest = rest.dropFirst(name.count)
            } else if first == "[" {
                guard let close = rest.firstIndex(of: "]") else { throw fail("'[' is not closed") }
                let inside = rest[rest.index(after: rest.startIndex)..<close]
                if inside == "*" { steps.append(.all) }
                else if let index = Int(inside), index >= 0 { steps.append(.index(index)) }
                else if inside.count >= 2, inside.first == "'", inside.last == "'" { steps.append(.member(String(inside.dropFirst().dropLast()))) }
                else { throw fail("'[\(inside)]' is neither an index, '*' nor a quoted name") }
                rest = rest[rest.index(after: close)...]
            } else {
                throw fail("unexpected '\(first)'")
            }
        }
        self.steps = steps
    }

    /// The values at this path (several through `[*]` or a final array), nulls left out.
    func values(in payload: JSONValue, record: Record) -> [JSONValue] {
        if let attribute {
            switch attribute {
            case .key: return [.string(record.key)]
            case .type: return [.string(record.type)]
            case .timestamp: return [.number(record.timestamp.timeIntervalSince1970)]
            case .position: return [.number(Double(record.position))]
            case .version: return [.number(Double(record.version))]
            case .id: return record.id.map { [.string($0)] } ?? []
            }
        }
        var current: [JSONValue] = [payload]
        for step in steps {
            var next: [JSONValue] = []
            for value in current {
                switch (step, value) {
                case (.member(let name), .object(let object)): if let found = object[name] { next.append(found) }
                case (.index(let index), .array(let list)): if index < list.count { next.append(list[index]) }
                case (.all, .array(let list)): next.append(contentsOf: list)
                default: break
                }
            }
            current = next
        }
        // A final array gives its elements.
        return current.flatMap { value -> [JSONValue] in
            if case .array(let list) = value { return list }
            return [value]
        }.filter { $0 != .null }
    }
}
