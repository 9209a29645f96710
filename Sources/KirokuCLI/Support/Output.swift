import Foundation
import KirokuLog

/// Printing for people (aligned tables) and scripts (JSON objects, one per line).
enum Output {
    /// One JSON object on one line.
    static func json(_ object: [String: Any]) {
        print(jsonLine(object))
    }

    static func jsonLine(_ object: [String: Any]) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// An `Encodable` value as one JSON line.
    static func encoded<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// Rows under headers, columns aligned.
    static func table(_ headers: [String], _ rows: [[String]]) {
        var widths = headers.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in i == cells.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }
        print(line(headers))
        for row in rows { print(line(row)) }
    }

    /// Name and value pairs, aligned.
    static func rows(_ rows: [[String]]) {
        let width = rows.map { $0[0].count }.max() ?? 0
        for row in rows { print(row[0].padding(toLength: width, withPad: " ", startingAt: 0) + "  " + row[1]) }
    }

    /// The bytes of the files under a directory (a view's or a backup's size on disk).
    static func directoryBytes(_ path: String) -> Int {
        guard let files = FileManager.default.enumerator(atPath: path) else { return 0 }
        var total = 0
        for case let file as String in files {
            if let size = (try? FileManager.default.attributesOfItem(atPath: path + "/" + file))?[.size] as? Int { total += size }
        }
        return total
    }

    static func iso(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    /// A record as the JSON object of `read` and `tail`: `data` is the payload's JSON when it
    /// is JSON, else its UTF-8 text, else `dataBase64`.
    static func object(_ record: Record) -> [String: Any] { record.jsonObject() }

    /// A record as a line for people.
    static func line(_ record: Record) -> String {
        let data = record.deletion.map { "<\($0.rawValue) deletion>" } ?? (record.isErased ? "<erased>" : nil)
            ?? String(data: record.payload, encoding: .utf8) ?? "<\(record.payload.count) bytes>"
        let type = record.schemaVersion == 1 ? record.type : "\(record.type) (schema \(record.schemaVersion))"
        return "\(record.position)  \(record.key)@\(record.version)  \(type)  \(iso(record.timestamp))  \(data)"
    }

    /// Messages for people go to standard error, so standard output stays data.
    static func note(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}
