import Foundation
import KirokuFeed
import KirokuLog

/// Whether the pipeline behind a log makes progress: the answer of `GET /health`.
///
/// A process that is up while a consumer is stuck is a gray failure: its orchestrator sees it
/// alive. The health is therefore judged on progress, not on the process: a consumer that is
/// behind and has not moved its checkpoint for longer than its stall time, or that has dead
/// letters left failed, makes the pipeline unhealthy, with the reason.
public struct PipelineHealth: Sendable, Codable, Hashable {
    /// One reason the pipeline is unhealthy.
    public struct Reason: Sendable, Codable, Hashable {
        /// The consumer it is about.
        public var consumer: String
        /// `stalled` or `dead-letters`.
        public var kind: String
        /// What is wrong, for people.
        public var message: String
        /// Records behind the log's head.
        public var lagRecords: UInt64
        /// Seconds since the oldest record it has not handled was committed.
        public var lagSeconds: Double
        /// When its checkpoint last moved.
        public var since: Date
    }

    /// `ok` or `unhealthy`.
    public var status: String
    /// The log's head position.
    public var head: UInt64
    /// Why it is unhealthy; empty when it is not.
    public var reasons: [Reason]

    /// Whether every consumer makes progress.
    public var isHealthy: Bool { reasons.isEmpty }

    /// Judges the consumers of `log` now.
    public static func evaluate(_ log: EventLog, now: Date = Date()) async throws -> PipelineHealth {
        let consumers = try await Consumers(log: log)
        let deadLetters = try await DeadLetters(log: log)
        var reasons: [Reason] = []
        for consumer in try consumers.list(now: now) {
            if consumer.isStalled {
                reasons.append(Reason(consumer: consumer.name, kind: "stalled",
                                      message: "Consumer '\(consumer.name)' is \(consumer.lagRecords) records (\(Int(consumer.lagSeconds)) s) behind and has not moved since \(consumer.lastProgress.formatted(.iso8601)).",
                                      lagRecords: consumer.lagRecords, lagSeconds: consumer.lagSeconds, since: consumer.lastProgress))
            }
            let failed = try deadLetters.list(consumer: consumer.name, after: nil, limit: 1000).filter { $0.state == .failed }
            if let first = failed.first {
                reasons.append(Reason(consumer: consumer.name, kind: "dead-letters",
                                      message: "Consumer '\(consumer.name)' has \(failed.count) failed dead letter(s); the first, at position \(first.position) (key '\(first.key)'), failed with: \(first.error.prefix(200))",
                                      lagRecords: consumer.lagRecords, lagSeconds: consumer.lagSeconds, since: consumer.lastProgress))
            }
        }
        return PipelineHealth(status: reasons.isEmpty ? "ok" : "unhealthy", head: try log.headPosition(), reasons: reasons)
    }
}
