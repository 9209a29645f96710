import ArgumentParser
import Foundation
import KirokuLog

/// Opens the store named on the command line.
enum StoreOpener {
    /// Opens an existing store (`create`: or a new one, for commands that write).
    static func open(_ path: String, create: Bool = false) throws -> EventLog {
        var options = EventLog.Options()
        options.createIfMissing = create
        do {
            return try EventLog(path: path, options: options)
        } catch let error as KirokuError where error.code == .storeNotFound {
            throw CommandExit.notFound("No Kiroku store at \(path). Check the path, or create one with `kiroku append \(path) --key K --type T`.")
        }
    }
}

/// `--json`, shared by every command.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON (JSON Lines for streams) instead of a table.")
    var json = false
}
