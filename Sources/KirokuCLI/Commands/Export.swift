import ArgumentParser
import Foundation
import KirokuFeed
import KirokuLog
import KirokuSearch

/// `kiroku export`: records as JSON Lines that `kiroku import` reads back.
struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write records as JSON Lines that kiroku import reads back, in log order.",
        discussion: """
        Each line: {"position": P, "key": ..., "version": V, "type": ..., "timestamp": ..., "id": ..., "data": ..., "metadata": ...}.
        A deletion marker adds "deletion": "soft" or "hard", an erased record "erased": true (no data), an event written in a schema version other than 1 "schema": N (the stored form, never upcast): an import restores them.
        data and metadata are the stored bytes as they are when they are one JSON value on one line (not null);
        other bytes are written as dataBase64 / metadataBase64. id and metadata appear when the record has them.
        kiroku import of the file into an empty store gives an equal store: the same positions, keys, versions,
        ids, types, payload and metadata bytes (timestamps are the import's own). A filtered export (--prefix,
        --key, --type, or --from into a store that does not end just before it) is imported with --ignore-positions.
        """)

    @Argument(help: "The store directory.") var store: String
    @Argument(help: "The file to write, or '-' for standard output.") var file = "-"
    @Option(help: "Start at this position.") var from: UInt64 = 1
    @Option(help: "Stop after this position.") var to: UInt64?
    @Option(help: "Only this key.") var key: String?
    @Option(help: "Only keys whose bytes start with this prefix.") var prefix: String?
    @Option(name: .customLong("type"), help: "Only this event type (repeat for several).") var types: [String] = []
    @Flag(name: .customLong("json"), help: "Print a JSON summary on standard error at the end (standard output may be the data).")
    var json = false

    func run() async throws {
        if key != nil, prefix != nil { throw CommandExit.input("Give --key or --prefix, not both.") }
        guard from >= 1 else { throw CommandExit.input("--from must be at least 1.") }
        if let to, to < from { throw CommandExit.input("--to (\(to)) is before --from (\(from)).") }
        let log = try StoreOpener.open(store)
        defer { log.close() }
        var selection = key.map(Selection.key) ?? prefix.map(Selection.prefix) ?? .all
        if !types.isEmpty { selection = selection.types(types) }
        let head = try log.headPosition()
        let last = min(to ?? head, head)

        let out: FileHandle
        if file == "-" {
            out = FileHandle.standardOutput
        } else {
            guard FileManager.default.createFile(atPath: file, contents: nil), let opened = FileHandle(forWritingAtPath: file) else {
                throw CommandExit.input("Cannot write \(file); check the path and its directory's permissions.")
            }
            out = opened
        }
        defer { if file != "-" { try? out.close() } }

        var progress = Progress("export", total: last >= from ? last - from + 1 : 0)
        var written = 0
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 21)
        var position = from
        while position <= last {
            let records = try log.readAllStored(from: position, limit: 4096)
            guard !records.isEmpty else { break }
            for record in records where record.position <= last && selection.matches(record) {
                Self.line(record, into: &buffer)
                written += 1
            }
            position = records[records.count - 1].position + 1
            if buffer.count >= 1 << 20 {
                try out.write(contentsOf: buffer)
                buffer.removeAll(keepingCapacity: true)
            }
            progress.update(min(position, last + 1) - from)
        }
        try out.write(contentsOf: buffer)
        progress.update(last >= from ? last - from + 1 : 0, force: true)
        progress.finish()
        let summary = "Exported \(written) records (positions \(from) to \(last)) to \(file == "-" ? "standard output" : file)."
        if json {
            Output.note(Output.jsonLine(["exported": written, "from": from, "to": last, "head": head]))
        } else if file != "-" {
            print(summary)
        } else {
            Output.note(summary)
        }
    }

    /// One record as a line (with its newline), the fields in a fixed order.
    static func line(_ record: Record, into out: inout [UInt8]) {
        out.append(contentsOf: #"{"position":"#.utf8)
        out.append(contentsOf: String(record.position).utf8)
        out.append(contentsOf: #","key":"#.utf8)
        JSONEscape.appendQuoted(record.key, to: &out)
        out.append(contentsOf: #","version":"#.utf8)
        out.append(contentsOf: String(record.version).utf8)
        out.append(contentsOf: #","type":"#.utf8)
        JSONEscape.appendQuoted(record.type, to: &out)
        out.append(contentsOf: #","timestamp":""#.utf8)
        appendTimestamp(record.timestamp, to: &out)
        out.append(UInt8(ascii: "\""))
        if let id = record.id {
            out.append(contentsOf: #","id":"#.utf8)
            JSONEscape.appendQuoted(id, to: &out)
        }
        // What the record is besides an event, so that an import restores it as it is.
        if let deletion = record.deletion { out.append(contentsOf: #","deletion":"\#(deletion.rawValue)""#.utf8) }
        if record.isErased { out.append(contentsOf: #","erased":true"#.utf8) }
        if record.schemaVersion != 1 { out.append(contentsOf: #","schema":\#(record.schemaVersion)"#.utf8) }
        func bytes(_ name: String, _ value: Data) {
            let verbatim = value.withUnsafeBytes { ImportLine.isVerbatim($0) }
            out.append(contentsOf: ",\"\(name)\(verbatim ? "" : "Base64")\":".utf8)
            if verbatim {
                out.append(contentsOf: value)
            } else {
                JSONEscape.appendQuoted(value.base64EncodedString(), to: &out)
            }
        }
        // An empty payload is no data (what a line without data imports as).
        if !record.payload.isEmpty { bytes("data", record.payload) }
        if let metadata = record.metadata { bytes("metadata", metadata) }
        out.append(contentsOf: "}\n".utf8)
    }

    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, the log's microseconds), written without a
    /// formatter (a formatter per record was most of an export's time).
    static func appendTimestamp(_ date: Date, to out: inout [UInt8]) {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        var seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = micros - seconds * 1_000_000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        seconds -= days * 86_400
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func digits(_ value: Int64, _ count: Int) {
            var text = [UInt8](repeating: UInt8(ascii: "0"), count: count)
            var rest = value
            for i in stride(from: count - 1, through: 0, by: -1) {
                text[i] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            out.append(contentsOf: text)
        }
        digits(year, 4)
        out.append(UInt8(ascii: "-"))
        digits(month, 2)
        out.append(UInt8(ascii: "-"))
        digits(day, 2)
        out.append(UInt8(ascii: "T"))
        digits(seconds / 3600, 2)
        out.append(UInt8(ascii: ":"))
        digits(seconds / 60 % 60, 2)
        out.append(UInt8(ascii: ":"))
        digits(seconds % 60, 2)
        out.append(UInt8(ascii: "."))
        digits(fraction, 6)
        out.append(UInt8(ascii: "Z"))
    }
}
