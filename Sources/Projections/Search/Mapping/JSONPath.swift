import Foundation
import Log

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
    func values(in payload: Any, record: Record) -> [Any] {
        if let attribute {
            switch attribute {
            case .key: return [record.key]
            case .type: return [record.type]
            case .timestamp: return [NSNumber(value: record.timestamp.timeIntervalSince1970)]
            case .position: return [NSNumber(value: record.position)]
            case .version: return [NSNumber(value: record.version)]
            case .id: return record.id.map { [$0] } ?? []
            }
        }
        var current: [Any] = [payload]
        for step in steps {
            var next: [Any] = []
            for value in current {
                switch step {
                case .member(let name): if let found = (value as? [String: Any])?[name] { next.append(found) }
                case .index(let index): if let list = value as? [Any], index < list.count { next.append(list[index]) }
                case .all: if let list = value as? [Any] { next.append(contentsOf: list) }
                }
            }
            current = next
        }
        // A final array gives its elements.
        return current.flatMap { ($0 as? [Any]) ?? [$0] }.filter { !($0 is NSNull) }
    }
}
