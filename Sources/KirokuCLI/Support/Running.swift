import Foundation
import KirokuLog
import KirokuProjections

/// Runs projections in this process for as long as a command needs them.
enum Running {
    /// Runs `projections` until `version` of `name` is active and has applied the head as it
    /// was when called (``ProjectionRunner/runUntilActive(log:projections:name:version:batchSize:progress:)``),
    /// showing progress on a terminal.
    static func untilActive(_ log: EventLog, _ projections: [any Projection], name: String, version: Int,
                            label: String) async throws {
        let bar = Locked(Progress(label, total: try log.headPosition()))
        try await ProjectionRunner.runUntilActive(log: log, projections: projections, name: name, version: version) { position, _ in
            bar.withLock { $0.update(position) }
        }
        bar.withLock { $0.update($0.total ?? 0, force: true); $0.finish() }
    }

    /// A progress bar for a rebuild (version, position, target).
    static func rebuildProgress(_ label: String, total: UInt64) -> (bar: Locked<Progress>, report: @Sendable (Int, UInt64, UInt64) -> Void) {
        let bar = Locked(Progress(label, total: total))
        return (bar, { _, position, _ in bar.withLock { $0.update(position) } })
    }
}
