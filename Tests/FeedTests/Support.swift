import Foundation
import KirokuTestSupport
import Log
import Testing

/// Opens a log on a new temporary directory, runs `body`, closes and removes it.
func withLog<T>(options: EventLog.Options = EventLog.Options(), _ body: (EventLog, TemporaryDirectory) async throws -> T) async throws -> T {
    let directory = TemporaryDirectory("kiroku-feed-test")
    defer { directory.remove() }
    let log = try EventLog(path: directory.sub("store"), options: options)
    defer { log.close() }
    return try await body(log, directory)
}

func event(_ type: String = "Tested", _ text: String = "payload", id: String? = nil) -> EventData {
    EventData(type: type, payload: Data(text.utf8), id: id)
}


/// Polls `condition` every 5 ms until it holds or `timeout` passes; returns whether it held.
/// For waiting on background work, never for asserting how fast it was.
func eventually(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return try await condition()
}

/// Thread-safe collection of what handlers saw.
final class Recorder<Value: Sendable>: @unchecked Sendable {
    // `lock` guards `values`.
    private let lock = NSLock()
    private var values: [Value] = []

    func append(_ value: Value) { lock.withLock { values.append(value) } }
    var all: [Value] { lock.withLock { values } }
    var count: Int { lock.withLock { values.count } }
}
