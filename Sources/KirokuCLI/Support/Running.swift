import Foundation
import KirokuLog
import KirokuProjections

/// Runs projections in this process for as long as a command needs them.
enum Running {
    /// Runs `projections` until `version` of `name` is active and has applied the head as it
    /// was when called, showing progress on a terminal. Ends at once with the error when the
    /// version fails or the runner cannot start; the wait is woken by each applied batch.
    static func untilActive(_ log: EventLog, _ projections: [any Projection], name: String, version: Int,
                            label: String) async throws -> ProjectionRunner {
        let runner = ProjectionRunner(log: log, projections: projections, batchSize: 5000)
        let running = Task { try await runner.run() }
        let head = try log.headPosition()
        defer { running.cancel() }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await runner.waitUntil(name, version: version, hasApplied: head, timeout: .seconds(365 * 86_400))
                }
                group.addTask {
                    // Only draws the bar; the wait above decides when this ends.
                    var progress = Progress(label, total: head)
                    while !Task.isCancelled {
                        if let status = try? runner.status().first(where: { $0.name == name && $0.version == version }) {
                            progress.update(status.position)
                        }
                        try? await Task.sleep(for: .milliseconds(100))
                    }
                    progress.update(head, force: true)
                    progress.finish()
                }
                defer { group.cancelAll() }
                try await group.next()
            }
        } catch {
            running.cancel()
            _ = try? await running.value
            throw error
        }
        running.cancel()
        _ = try? await running.value
        return runner
    }
}
