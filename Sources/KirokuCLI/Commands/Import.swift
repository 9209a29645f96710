import ArgumentParser
import Foundation
import KirokuLog

/// `kiroku import`: JSON Lines into the log.
struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append the events of a JSON Lines file, in file order.",
        discussion: """
        Each line: {"key": ..., "type": ..., "data": {...}, "id": ..., "metadata": {...}} (id and metadata optional).
        data and metadata are stored as the bytes the line holds; key, type and id must be valid UTF-8.
        A line whose id is stored already with the same key, type, data and metadata is a repeat: stored once,
        counted, never an error. An id stored with other content is a bad line that names both lines.
        Re-running the same import (after a crash or a kill) completes it with no duplicates and no reordering:
        a line without an id gets one derived from its line number and content.
        A bad line stops the import with its line number and reason (--skip-bad reports and skips it);
        everything before it stays. The store and the summary are the same for any --batch.
        """)

    @Argument(help: "The store directory (created when missing).") var store: String
    @Argument(help: "The JSON Lines file, or '-' for standard input.") var file: String
    @Option(help: "Lines per commit (1 to 100000).") var batch = 1000
    @Flag(name: .customLong("skip-bad"), help: "Report bad lines and go on.") var skipBad = false
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
        var progress = Progress("import", total: total)
        var summary = ImportSummary(headAtStart: try log.headPosition())
        var pending: [(line: Int, group: AppendGroup)] = []
        var lineNumber = 0
        var bytesRead: UInt64 = 0

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
            guard !pending.isEmpty else { return }
            let results = try await log.appendEach(pending.map(\.group), stopAtFirstError: !skipBad)
            for ((line, _), result) in zip(pending, results) {
                switch result {
                case .success(let appended): summary.count(appended.events[0], line: line)
                case .failure(let error): try bad(line, summary.describe(error))
                }
            }
            pending.removeAll(keepingCapacity: true)
        }

        for try await line in LineReader(handle: handle) {
            lineNumber += 1
            bytesRead += UInt64(line.count + 1)
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            do {
                pending.append((lineNumber, try Self.group(line, number: lineNumber)))
            } catch {
                try await flush()
                try bad(lineNumber, error.reason)
            }
            if pending.count >= batch { try await flush() }
            progress.update(bytesRead)
        }
        try await flush()
        progress.update(bytesRead, force: true)
        progress.finish()
        let head = try log.headPosition()
        if output.json {
            Output.json(["imported": summary.imported, "repeats": summary.repeats, "alreadyImported": summary.alreadyImported,
                         "skipped": summary.skipped, "lines": lineNumber, "head": head])
        } else {
            print("Imported \(summary.imported) events (\(summary.repeats) repeats skipped, \(summary.alreadyImported) already imported, \(summary.skipped) bad lines skipped) from \(lineNumber) lines; head is \(head).")
        }
    }

    /// One line as an append group of one event.
    static func group(_ line: [UInt8], number: Int) throws(ImportLine.Invalid) -> AppendGroup {
        let parsed: ImportLine
        do {
            parsed = try line.withUnsafeBytes { try ImportLine.parse($0) }
        } catch let invalid as ImportLine.Invalid {
            throw invalid
        } catch {
            throw ImportLine.Invalid(reason: "\(error)")
        }
        let id: String
        if let given = parsed.id {
            id = given
        } else {
            // Derived from the line: the same file imported again gives the same ids.
            id = "import:\(number):" + String(FNV1a.hash(line), radix: 16)
        }
        let event = EventData(type: parsed.type, payload: parsed.data ?? Data(), metadata: parsed.metadata, id: id)
        return AppendGroup(key: parsed.key, events: [event])
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
    /// The line that wrote each new position, in position order (for errors that name it).
    private var lines: [(position: UInt64, line: Int)] = []

    init(headAtStart: UInt64) { self.headAtStart = headAtStart }

    mutating func count(_ event: StoredEvent, line: Int) {
        if !event.isRepeat {
            imported += 1
            lines.append((event.position, line))
        } else if event.position <= headAtStart {
            alreadyImported += 1
        } else {
            repeats += 1
        }
    }

    /// The line of this import that wrote `position`, if it did.
    func line(writing position: UInt64) -> Int? {
        var low = 0, high = lines.count
        while low < high {
            let mid = (low + high) / 2
            if lines[mid].position < position { low = mid + 1 } else { high = mid }
        }
        return low < lines.count && lines[low].position == position ? lines[low].line : nil
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
