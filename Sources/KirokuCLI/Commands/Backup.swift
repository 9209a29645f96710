import ArgumentParser
import Foundation
import KirokuLog
import KirokuProjections

/// `kiroku backup`: a consistent copy of a store, made while it is written.
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a store (log, projections, view definitions) into a new directory while appends go on, then verify the copy.",
        discussion: """
        Each projection's environment is copied first, then the log: every projection copy is at or before the
        log copy's head, so the copy opens as a store whose views catch up from their checkpoints. The log copy
        holds every record up to one commit. --compact leaves out free pages (stats shows how many there are).
        The copy is verified (kiroku verify's log checks) before the command reports it.
        """)

    @Argument(help: "The store directory.") var store: String
    @Argument(help: "The backup directory: new, or empty.") var directory: String
    @Flag(help: "Leave out free pages: a smaller copy.") var compact = false
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let log = try StoreOpener.open(store)
        defer { log.close() }
        let start = ContinuousClock.now
        try StoreBackup.prepare(directory, mustBeEmpty: true)
        try ProjectionCatalog(store: log.path).backup(into: directory, compact: compact)
        try log.backup(to: directory, compact: compact)
        let seconds = (ContinuousClock.now - start).seconds
        // The copy must open and verify clean before it counts as a backup.
        let copy = try EventLog(path: directory)
        defer { copy.close() }
        let report = try copy.verify()
        guard report.isClean else {
            throw KirokuError(.corruption, "The backup at \(directory) does not verify: \(report.problems.prefix(3).map(\.description).joined(separator: "; ")). Keep the store, remove the copy and run the backup again.", path: directory)
        }
        let bytes = Output.directoryBytes(directory)
        if output.json {
            Output.json(["directory": directory, "head": report.headPosition, "bytes": bytes, "seconds": seconds, "compact": compact])
        } else {
            print("Backed up \(report.headPosition) records to \(directory) (\(bytes / 1_048_576) MiB\(compact ? ", compacted" : ""), \(String(format: "%.1f", seconds)) s); the copy verifies clean.")
        }
    }
}
