import Foundation
import KirokuTestSupport
import Testing
@testable import Log

/// Opens a log on a new temporary directory, runs `body`, closes and removes it.
func withLog<T>(options: EventLog.Options = EventLog.Options(), _ body: (EventLog, TemporaryDirectory) async throws -> T) async throws -> T {
    let directory = TemporaryDirectory()
    defer { directory.remove() }
    let log = try EventLog(path: directory.sub("store"), options: options)
    defer { log.close() }
    return try await body(log, directory)
}

func event(_ type: String = "Tested", _ text: String = "payload", id: String? = nil, metadata: String? = nil) -> EventData {
    EventData(type: type, payload: Data(text.utf8), metadata: metadata.map { Data($0.utf8) }, id: id)
}


