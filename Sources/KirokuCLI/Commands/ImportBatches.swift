import Foundation
import KirokuLog

/// The lines of a JSON Lines file, read in chunks and parsed a batch at a time into append
/// groups: `kiroku import` parses the next batch on another thread while the current one
/// commits, and never holds more than a chunk and two batches.
///
/// One task at a time calls ``next(lines:)`` (the import awaits each batch before asking for
/// the next), so the state needs no lock.
final class ImportBatches: @unchecked Sendable {
    /// One line ready to append.
    struct Line: Sendable {
        let number: Int
        let group: AppendGroup
        /// The position the line must take (an export's line), unless positions are ignored.
        let position: UInt64?
    }

    enum Item: Sendable {
        case line(Line)
        case bad(line: Int, reason: String)
    }

    private let handle: FileHandle
    private let honorPositions: Bool
    private var buffer: [UInt8] = []
    private var start = 0
    private var done = false
    /// Lines read so far (blank ones included: errors name lines by their number in the file).
    private(set) var lineNumber = 0
    private(set) var bytesRead: UInt64 = 0

    static let chunk = 1 << 20

    init(handle: FileHandle, honorPositions: Bool) {
        self.handle = handle
        self.honorPositions = honorPositions
    }

    /// The next `lines` non-blank lines (fewer at the end of the file), or nil after the last.
    func next(lines: Int) -> [Item]? {
        var items: [Item] = []
        items.reserveCapacity(lines)
        while items.count < lines {
            guard let range = nextLine() else { break }
            lineNumber += 1
            bytesRead += UInt64(range.count + 1)
            let number = lineNumber, honorPositions = honorPositions
            let item = buffer.withUnsafeBytes { raw -> Item? in
                let line = UnsafeRawBufferPointer(rebasing: raw[range])
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return nil }
                do throws(ImportLine.Invalid) {
                    return .line(try Self.line(line, number: number, honorPositions: honorPositions))
                } catch {
                    return .bad(line: number, reason: error.reason)
                }
            }
            if let item { items.append(item) }
        }
        return items.isEmpty && done && start >= buffer.count ? nil : items
    }

    /// The byte range of the next line in `buffer` (without its `\n` or `\r\n`), reading
    /// chunks as needed; nil at the end of the file.
    private func nextLine() -> Range<Int>? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                var end = newline
                if end > start, buffer[end - 1] == 0x0D { end -= 1 }
                defer { start = newline + 1 }
                return start..<end
            }
            if done {
                guard start < buffer.count else { return nil }
                defer { start = buffer.count }
                return start..<buffer.count
            }
            buffer.removeFirst(start)
            start = 0
            let chunk = handle.readData(ofLength: Self.chunk)
            if chunk.isEmpty { done = true } else { buffer.append(contentsOf: chunk) }
        }
    }

    /// One line as an append group of one event.
    static func line(_ line: UnsafeRawBufferPointer, number: Int, honorPositions: Bool) throws(ImportLine.Invalid) -> Line {
        let parsed = try ImportLine.parse(line)
        let position = honorPositions ? parsed.position : nil
        var id = parsed.id
        if id == nil, position == nil {
            // Derived from the line: the same file imported again gives the same ids.
            id = "import:\(number):" + String(FNV1a.hash(line), radix: 16)
        }
        var event = EventData(type: parsed.type, payload: parsed.data ?? Data(), metadata: parsed.metadata, id: id,
                              schemaVersion: parsed.schema)
        if parsed.erased || parsed.deletion != nil {
            event.restored = EventData.Restored(isErased: parsed.erased, deletion: parsed.deletion)
        }
        let expected: ExpectedVersion = honorPositions ? parsed.version.map { .exact($0 - 1) } ?? .any : .any
        return Line(number: number, group: AppendGroup(key: parsed.key, events: [event], expected: expected), position: position)
    }
}
