import ArgumentParser
import Foundation
import KirokuLog

/// Lines of a file handle as bytes, read in chunks (a trailing `\r` removed).
struct LineReader: AsyncSequence {
    typealias Element = [UInt8]
    let handle: FileHandle

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle
        var buffer: [UInt8] = []
        var start = 0
        var done = false

        mutating func next() async throws -> [UInt8]? {
            while true {
                if let newline = buffer[start...].firstIndex(of: 0x0A) {
                    var end = newline
                    if end > start, buffer[end - 1] == 0x0D { end -= 1 }
                    let line = Array(buffer[start..<end])
                    start = newline + 1
                    return line
                }
                if done {
                    guard start < buffer.count else { return nil }
                    let line = Array(buffer[start...])
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
