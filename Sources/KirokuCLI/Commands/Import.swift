import ArgumentParser
import Foundation
import Log

/// `kiroku import`: JSON Lines into the log.
struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append the events of a JSON Lines file, in file order.",
        discussion: """
        Each line: {"key": ..., "type": ..., "data": {...}, "id": ..., "metadata": {...}} (id and metadata optional).
        Re-running the same import (after a crash or a kill) completes it with no duplicates and no reordering:
        a line without an id gets one derived from its line number and content.
        A bad line stops the import with its line number and reason (--skip-bad reports and skips it);
        everything committed before it stays.
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
        let log = try Store.open(store, create: true)
        defer { log.close() }
        var progress = Progress("import", total: total)
        var pending: [AppendGroup] = []
        var lineNumber = 0
        var bytesRead: UInt64 = 0
        var imported = 0, skipped = 0, alreadyThere = 0
        let head = try log.headPosition()

        func flush() async throws {
            guard !pending.isEmpty else { return }
            do {
                let results = try await log.append(pending)
                let stored = results.filter { $0.positions.upperBound <= head }.count
                alreadyThere += stored
                imported += results.count - stored
            } catch let error as KirokuError where error.code == .duplicateEventId {
                // Part of this batch was stored by an earlier run with other batch sizes: line
                // by line, each line is then either stored already or new.
                for group in pending {
                    let result = try await log.append([group])[0]
                    if result.positions.upperBound <= head { alreadyThere += 1 } else { imported += 1 }
                }
            }
            pending.removeAll(keepingCapacity: true)
        }

        for try await line in LineReader(handle: handle) {
            lineNumber += 1
            bytesRead += UInt64(line.utf8.count + 1)
            if line.allSatisfy(\.isWhitespace) { continue }
            do {
                pending.append(try Self.group(line, number: lineNumber))
            } catch let bad as CommandExit {
                guard skipBad else {
                    try await flush()
                    progress.finish()
                    throw CommandExit.input("Line \(lineNumber): \(bad.message ?? "not valid"). Lines before it are imported; fix the line and run the import again, or pass --skip-bad.")
                }
                skipped += 1
                Output.note("kiroku: skipped line \(lineNumber): \(bad.message ?? "not valid")")
            }
            if pending.count >= batch { try await flush() }
            progress.update(bytesRead)
        }
        try await flush()
        progress.update(bytesRead, force: true)
        progress.finish()
        if output.json {
            Output.json(["imported": imported, "alreadyImported": alreadyThere, "skipped": skipped, "lines": lineNumber, "head": try log.headPosition()])
        } else {
            print("Imported \(imported) events (\(alreadyThere) already imported, \(skipped) bad lines skipped) from \(lineNumber) lines; head is \(try log.headPosition()).")
        }
    }

    /// One line as an append group of one event.
    static func group(_ line: String, number: Int) throws -> AppendGroup {
        let object: [String: Any]
        do {
            guard let parsed = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw CommandExit.input("not a JSON object")
            }
            object = parsed
        } catch let exit as CommandExit {
            throw exit
        } catch {
            throw CommandExit.input("not valid JSON")
        }
        guard let key = object["key"] as? String, !key.isEmpty else { throw CommandExit.input("\"key\" is missing or not a string") }
        guard let type = object["type"] as? String, !type.isEmpty else { throw CommandExit.input("\"type\" is missing or not a string") }
        let known: Set<String> = ["key", "type", "data", "id", "metadata"]
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw CommandExit.input("unknown field \"\(unknown)\" (the fields are key, type, data, id, metadata)")
        }
        func encode(_ value: Any?) throws -> Data? {
            guard let value, !(value is NSNull) else { return nil }
            return try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys])
        }
        let id: String
        if let given = object["id"] {
            guard let text = given as? String, !text.isEmpty else { throw CommandExit.input("\"id\" must be a non-empty string") }
            id = text
        } else {
            // Derived from the line: the same file imported again gives the same ids.
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in line.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            id = "import:\(number):" + String(hash, radix: 16)
        }
        let event = EventData(type: type, payload: try encode(object["data"]) ?? Data(), metadata: try encode(object["metadata"]), id: id)
        return AppendGroup(key: key, events: [event])
    }
}

/// Lines of a file handle, read in chunks.
struct LineReader: AsyncSequence {
    typealias Element = String
    let handle: FileHandle

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle
        var buffer: [UInt8] = []
        var start = 0
        var done = false

        mutating func next() async throws -> String? {
            while true {
                if let newline = buffer[start...].firstIndex(of: 0x0A) {
                    let line = String(decoding: buffer[start..<newline], as: UTF8.self)
                    start = newline + 1
                    return line.hasSuffix("\r") ? String(line.dropLast()) : line
                }
                if done {
                    guard start < buffer.count else { return nil }
                    let line = String(decoding: buffer[start...], as: UTF8.self)
                    start = buffer.count
                    return line
                }
                buffer.removeFirst(start)
                start = 0
                let chunk = handle.readData(ofLength: 1 << 20)
                if chunk.isEmpty { done = true } else { buffer.append(contentsOf: chunk) }
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(handle: handle) }
}
