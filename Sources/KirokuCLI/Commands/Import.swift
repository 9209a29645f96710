import ArgumentParser
import Foundation
import KirokuLog

/// `kiroku import`: JSON Lines into the log.
struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append the events of a JSON Lines file, in file order.",
        discussion: """
        Each line: {"key": ..., "type": ..., "data": {...}, "id": ..., "metadata": {...}} (id and metadata optional;
        dataBase64 / metadataBase64 for bytes that are not JSON). data and metadata are stored as the bytes the line
        holds; key, type and id must be valid UTF-8.
        A line whose id is stored already with the same key, type, data and metadata is a repeat: stored once,
        counted, never an error. An id stored with other content is a bad line that names both lines.
        Re-running the same import (after a crash or a kill) completes it with no duplicates and no reordering:
        a line without an id gets one derived from its line number and content.
        Lines of kiroku export carry "position" and "version": each record must take that position and become
        that version, so an export imported into an empty store gives an equal store, and a re-run resumes
        after the records already there. --ignore-positions appends such lines after the head instead
        (a filtered export, or into a store that has records).
        A bad line stops the import with its line number and reason (--skip-bad reports and skips it);
        everything before it stays. The store and the summary are the same for any --batch.
        The next batch is parsed on a second thread while the current one commits.
        """)

    @Argument(help: "The store directory (created when missing).") var store: String
    @Argument(help: "The JSON Lines file, or '-' for standard input.") var file: String
    @Option(help: "Lines per commit (1 to 100000): each commit is one fsync, so larger batches import faster on slow disks.") var batch = 10_000
    @Flag(name: .customLong("skip-bad"), help: "Report bad lines and go on.") var skipBad = false
    @Flag(name: .customLong("ignore-positions"), help: "Append lines that carry a position (kiroku export's) after the head, ignoring their positions and versions.")
    var ignorePositions = false
    @OptionGroup var output: OutputOptions

    func run() async throws {
        guard (1...100_000).contains(batch) else { throw CommandExit.input("--batch must be 1 to 100000.") }
        let handle: FileHandle
        var total: UInt64?
        if file == "-" {
            handle = FileHandle.standardInput
        } else {
            guard let opened = FileHandle(forReadingAtPath: file) else { throw CommandExit.input("Cannot read \(file); check the path.") }
            handle = opened
            total = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.uint64Value
        }
        let log = try StoreOpener.open(store, create: true)
        defer { log.close() }
        var progress = Progress("import", total: nil, unit: "lines")
        var summary = ImportSummary(headAtStart: try log.headPosition())
        var head = summary.headAtStart
        var pending: [ImportBatches.Line] = []
        let batches = ImportBatches(handle: handle, honorPositions: !ignorePositions)

        /// Reports a bad line: stops the import, or (with --skip-bad) counts it and goes on.
        func bad(_ line: Int, _ reason: String) throws {
            guard skipBad else {
                progress.finish()
                throw CommandExit.input("Line \(line): \(reason). Lines before it are imported; fix the line and run the import again, or pass --skip-bad.")
            }
            summary.skipped += 1
            Output.note("kiroku: skipped line \(line): \(reason)")
        }

        func flush() async throws {
            while !pending.isEmpty {
                // Lines with positions stop at a failed one: those after it would take other
                // positions than theirs.
                let positioned = pending.contains { $0.position != nil }
                let results = try await log.appendEach(pending.map(\.group), stopAtFirstError: !skipBad || positioned)
                for (line, result) in zip(pending, results) {
                    switch result {
                    case .success(let appended):
                        let event = appended.events[0]
                        head = max(head, event.position)
                        if let position = line.position, event.isRepeat || event.position != position {
                            // Another writer, or an id this store holds at another position.
                            try bad(line.number, event.isRepeat
                                ? "its id is stored already, at position \(event.position), not at the line's position \(position); pass --ignore-positions to import the file after the head"
                                : "it took position \(event.position), not the line's position \(position): something else appended to the store during the import")
                            continue
                        }
                        summary.count(event, line: line.number)
                    case .failure(let error): try bad(line.number, summary.describe(error))
                    }
                }
                // The lines after a failed one (with --skip-bad) were not applied: each is placed
                // again, and one with a position now finds it out of reach and says so.
                let rest = Array(pending[results.count...])
                pending.removeAll(keepingCapacity: true)
                for line in rest {
                    if let position = line.position, try await !place(line, at: position) { continue }
                    pending.append(line)
                }
            }
        }

        /// A line of an export: already in the store (a resumed import), next, or out of place.
        func place(_ line: ImportBatches.Line, at position: UInt64) async throws -> Bool {
            let next = head + UInt64(pending.count) + 1
            if position == next { return true }
            if position > next {
                try await flush()
                try bad(line.number, "its position is \(position) but the store's next position is \(head + 1); import the file into an empty store (or resume the import that made this one), or pass --ignore-positions (an export of a store that deletions or retention removed records from has gaps: import it with --ignore-positions)")
                return false
            }
            try await flush()
            if try log.holds(line.group.events[0], key: line.group.key, at: position) {
                summary.alreadyImported += 1
            } else {
                try bad(line.number, "position \(position) holds another record; this file does not continue this store: import it into an empty store, or pass --ignore-positions to append its records after the head")
            }
            return false
        }

        var parsing = Task.detached { batches.next(lines: batch) }
        while let items = await parsing.value {
            // The next batch is read and parsed while this one commits.
            parsing = Task.detached { batches.next(lines: batch) }
            for item in items {
                switch item {
                case .bad(let number, let reason):
                    try await flush()
                    try bad(number, reason)
                case .line(let line):
                    if let position = line.position, try await !place(line, at: position) { continue }
                    pending.append(line)
                    if pending.count >= batch { try await flush() }
                }
            }
            progress.update(UInt64(batches.lineNumber), fraction: total.map { $0 > 0 ? min(1, Double(batches.bytesRead) / Double($0)) : 1 })
        }
        try await flush()
        progress.update(UInt64(batches.lineNumber), fraction: total == nil ? nil : 1, force: true)
        progress.finish()
        let lines = batches.lineNumber
        head = try log.headPosition()
        if output.json {
            Output.json(["imported": summary.imported, "repeats": summary.repeats, "alreadyImported": summary.alreadyImported,
                         "skipped": summary.skipped, "lines": lines, "head": head])
        } else {
            print("Imported \(summary.imported) events (\(summary.repeats) repeats skipped, \(summary.alreadyImported) already imported, \(summary.skipped) bad lines skipped) from \(lines) lines; head is \(head).")
        }
    }
}

/// What an import did, line by line, and the words for its errors.
struct ImportSummary {
    /// The head when the import began: a repeat at or below it was imported before this run.
    let headAtStart: UInt64
    var imported = 0
    var repeats = 0
    var alreadyImported = 0
    var skipped = 0
    /// The lines that wrote new positions, in position order (for errors that name them), as
    /// runs of consecutive positions written by consecutive lines: an import of N lines keeps
    /// a few runs, not N entries.
    private var runs: [(position: UInt64, line: Int, count: Int)] = []

    init(headAtStart: UInt64) { self.headAtStart = headAtStart }

    mutating func count(_ event: StoredEvent, line: Int) {
        if !event.isRepeat {
            imported += 1
            if let last = runs.last, last.position + UInt64(last.count) == event.position, last.line + last.count == line {
                runs[runs.count - 1].count += 1
            } else {
                runs.append((event.position, line, 1))
            }
        } else if event.position <= headAtStart {
            alreadyImported += 1
        } else {
            repeats += 1
        }
    }

    /// The line of this import that wrote `position`, if it did.
    func line(writing position: UInt64) -> Int? {
        var low = 0, high = runs.count
        while low < high {
            let mid = (low + high) / 2
            if runs[mid].position + UInt64(runs[mid].count) <= position { low = mid + 1 } else { high = mid }
        }
        guard low < runs.count, runs[low].position <= position else { return nil }
        return runs[low].line + Int(position - runs[low].position)
    }

    /// A line's append error, naming the earlier line when the error is about one.
    func describe(_ error: KirokuError) -> String {
        var message = error.message
        if message.hasSuffix(".") { message.removeLast() }
        guard error.code == .idReused, let position = error.position else { return message }
        let place = "at position \(position)"
        if let earlier = line(writing: position) {
            return message.replacingOccurrences(of: place, with: "\(place) (line \(earlier) of this file)")
        }
        if position <= headAtStart {
            return message.replacingOccurrences(of: place, with: "\(place) (by an earlier import or append)")
        }
        return message
    }
}
