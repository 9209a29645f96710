import Foundation
import KirokuLog

extension ProjectionRunner {
    /// Runs `projections` in a runner of its own until `version` of `name` is active and has
    /// applied the head as it was when called, then stops that runner: a first build or a
    /// blue/green rebuild, as `kiroku view create`, `kiroku projections rebuild` and the HTTP
    /// API's rebuild run it.
    ///
    /// Ends at once with the error when the version fails or the runner cannot start; the wait
    /// is woken by each applied batch. `progress` (position reached, target), when given, is
    /// called about ten times a second.
    ///
    /// - Throws: ``KirokuError/Code/projectionFailed``, ``KirokuError/Code/projectionNotReady``,
    ///   or what stopped the runner.
    public static func runUntilActive(log: EventLog, projections: [any Projection], name: String, version: Int,
                                      batchSize: Int = 5000,
                                      progress: (@Sendable (_ position: UInt64, _ target: UInt64) -> Void)? = nil) async throws {
        let runner = ProjectionRunner(log: log, projections: projections, batchSize: batchSize)
        let running = Task { try await runner.run() }
        let head = try log.headPosition()
        defer { running.cancel() }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await runner.waitUntil(name, version: version, hasApplied: head, timeout: .seconds(365 * 86_400))
                }
                if let progress {
                    group.addTask {
                        // Only reports; the wait above decides when this ends.
                        while !Task.isCancelled {
                            if let status = try? runner.status().first(where: { $0.name == name && $0.version == version }) {
                                progress(status.position, head)
                            }
                            try? await Task.sleep(for: .milliseconds(100))
                        }
                    }
                }
                defer { group.cancelAll() }
                try await group.next()
            }
        } catch {
            running.cancel()
            _ = try? await running.value
            throw error
        }
        progress?(head, head)
        running.cancel()
        _ = try? await running.value
    }
}
