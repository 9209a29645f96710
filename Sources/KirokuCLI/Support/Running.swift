import Foundation
import Log
import Projections

/// Runs projections in this process for as long as a command needs them.
enum Running {
    /// Runs `projections` until `version` of `name` is active and has applied the head as it
    /// was when called, showing progress on a terminal. Throws the version's failure.
    static func untilActive(_ log: EventLog, _ projections: [any Projection], name: String, version: Int,
                            label: String) async throws -> ProjectionRunner {
        let runner = ProjectionRunner(log: log, projections: projections, batchSize: 5000)
        let running = Task { try await runner.run() }
        let head = try log.headPosition()
        var progress = Progress(label, total: head)
        do {
            while true {
                try await Task.sleep(for: .milliseconds(50))
                guard let status = try runner.status().first(where: { $0.name == name && $0.version == version }) else { continue }
                if status.state == .failed {
                    throw KirokuError(.projectionFailed, "Projection '\(name)' v\(version) failed after position \(status.position): \(status.error ?? "unknown error"). Fix it and run again; it resumes from there.", position: status.position)
                }
                progress.update(status.position)
                if status.state == .active, status.position >= head { break }
            }
        } catch {
            progress.finish()
            running.cancel()
            _ = try? await running.value
            throw error
        }
        progress.update(head, force: true)
        progress.finish()
        running.cancel()
        _ = try? await running.value
        return runner
    }
}
