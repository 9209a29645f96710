import ArgumentParser
import Foundation
import KirokuLog

/// `kiroku read`: records of a key, a prefix, or the whole log.
struct Read: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print records: of one key, of keys with a prefix, or of the whole log, in log order (or newest first).")

    @Argument(help: "The store directory.") var store: String
    @Option(help: "Only this key.") var key: String?
    @Option(help: "Only keys starting with this prefix.") var prefix: String?
    @Option(help: "Start at this global position.") var from: UInt64 = 1
    @Option(help: "Start at the first record committed at or after this instant (ISO 8601, e.g. 2024-05-01T00:00:00Z).") var since: String?
    @Flag(help: "Newest first.") var reverse = false
    @Option(help: "Print at most this many records.") var limit = 1000
    @OptionGroup var output: OutputOptions

    func run() async throws {
        if key != nil, prefix != nil { throw CommandExit.input("Give --key or --prefix, not both.") }
        guard limit > 0 else { throw CommandExit.input("--limit must be at least 1.") }
        let log = try StoreOpener.open(store)
        defer { log.close() }
        var printed = 0
        func emit(_ record: Record) {
            if output.json { Output.json(Output.object(record)) } else { print(Output.line(record)) }
            printed += 1
        }
        var from = self.from
        if let since {
            guard let date = Self.instant(since) else {
                throw CommandExit.input("--since '\(since)' is not an instant: write it as ISO 8601, e.g. 2024-05-01T00:00:00Z or 2024-05-01T09:00:00+09:00.")
            }
            guard let position = try log.position(atOrAfter: date) else { return }
            from = max(from, position)
        }
        if reverse {
            // Newest first, down to `from` (and --since).
            if let key {
                var version = UInt64.max
                while printed < limit {
                    let records = try log.read(key: key, from: version, direction: .backward, limit: 1000)
                    for record in records where record.position >= from && printed < limit { emit(record) }
                    guard let last = records.last, last.version > 1, last.position >= from, records.count == 1000 else { break }
                    version = last.version - 1
                }
            } else {
                var before = UInt64.max
                while printed < limit {
                    let records = try log.readAll(before: before, limit: 1000)
                    for record in records where record.position >= from && printed < limit && (prefix.map { record.key.utf8HasPrefix($0) } ?? true) { emit(record) }
                    guard let last = records.last, last.position > from else { break }
                    before = last.position
                }
            }
            return
        }
        if let key {
            var version: UInt64 = 1
            while printed < limit {
                let records = try log.read(key: key, from: version, limit: 1000)
                for record in records where record.position >= from && printed < limit { emit(record) }
                guard let last = records.last, records.count == 1000 else { break }
                version = last.version + 1
            }
        } else {
            var position = max(1, from)
            while printed < limit {
                let records = try log.readAll(from: position, limit: 1000)
                for record in records where printed < limit && (prefix.map { record.key.utf8HasPrefix($0) } ?? true) { emit(record) }
                guard let last = records.last else { break }
                position = last.position + 1
            }
        }
    }

    /// An ISO 8601 instant, with or without fractional seconds.
    static func instant(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}
