import ArgumentParser
import Foundation
import KirokuLog

/// `kiroku read`: records of a key, a prefix, or the whole log.
struct Read: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print records: of one key, of keys with a prefix, or of the whole log, in log order.")

    @Argument(help: "The store directory.") var store: String
    @Option(help: "Only this key.") var key: String?
    @Option(help: "Only keys starting with this prefix.") var prefix: String?
    @Option(help: "Start at this global position.") var from: UInt64 = 1
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
}
