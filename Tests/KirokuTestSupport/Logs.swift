import Foundation
import KirokuLog

/// Opens a log on a new temporary directory, runs `body`, closes and removes it.
public func withLog<T>(options: EventLog.Options = EventLog.Options(), label: String = "kiroku-test",
                       _ body: (EventLog, TemporaryDirectory) async throws -> T) async throws -> T {
    let directory = TemporaryDirectory(label)
    defer { directory.remove() }
    let log = try EventLog(path: directory.sub("store"), options: options)
    defer { log.close() }
    return try await body(log, directory)
}

/// An event with a text payload.
public func event(_ type: String = "Tested", _ text: String = "payload", id: String? = nil, metadata: String? = nil) -> EventData {
    EventData(type: type, payload: Data(text.utf8), metadata: metadata.map { Data($0.utf8) }, id: id)
}

/// Polls `condition` every 5 ms until it holds or `timeout` passes; returns whether it held.
/// For waiting on background work, never for asserting how fast it was.
public func eventually(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return try await condition()
}

/// Whether two append results put the same events at the same positions and versions (a
/// retry's result marks its events as repeats, the first one's does not).
public func samePlaces(_ a: AppendResult, _ b: AppendResult) -> Bool {
    a.key.utf8.elementsEqual(b.key.utf8) && a.events.map { [$0.position, $0.version] } == b.events.map { [$0.position, $0.version] }
}

/// ``samePlaces(_:_:)`` for the results of atomic appends, group by group.
public func samePlaces(_ a: [AppendResult], _ b: [AppendResult]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { samePlaces($0, $1) }
}
