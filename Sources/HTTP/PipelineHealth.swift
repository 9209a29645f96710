import Foundation
import KirokuFeed
import KirokuLog

/// Whether the pipeline behind a log makes progress: the answer of `GET /health`.
///
/// A process that is up while a consumer or a projection is stuck is a gray failure: its
/// orchestrator sees it alive. The health is therefore judged on progress, not on the process:
/// a consumer or projection version that is behind and has not moved for longer than its stall
/// time, a consumer with dead letters left failed (and the keys they hold), or a projection
/// version that failed makes the pipeline unhealthy, with the reason.
public struct PipelineHealth: Sendable, Codable, Hashable {
    /// The failed dead letter a reason points at.
    public struct Letter: Sendable, Codable, Hashable {
        public var position: UInt64
        public var key: String
        public var error: String
        /// Whether later records of its key wait behind it (`holdKey`).
        public var holdsKey: Bool
    }

    /// One reason the pipeline is unhealthy.
    public struct Reason: Sendable, Codable, Hashable {
        /// `stalled`, `dead-letters` or `failed`.
        public var kind: String
        /// The consumer it is about, if a consumer.
        public var consumer: String?
        /// The projection (and version) it is about, if a projection.
        public var projection: String?
        public var version: Int?
        /// What is wrong, for people.
        public var message: String
        /// Records behind the log's head.
        public var lagRecords: UInt64
        /// Seconds since the oldest record a consumer has not handled was committed.
        public var lagSeconds: Double?
        /// When its position last moved.
        public var since: Date
        /// The first failed dead letter, for `dead-letters`.
        public var deadLetter: Letter?
        /// How many dead letters failed, and how many records wait behind them.
        public var failedDeadLetters: Int?
        public var heldDeadLetters: Int?
    }

    /// `ok` or `unhealthy`.
    public var status: String
    /// The log's head position.
    public var head: UInt64
    /// Why it is unhealthy; empty when it is not.
    public var reasons: [Reason]

    /// Whether every consumer and projection makes progress.
    public var isHealthy: Bool { reasons.isEmpty }

    /// Judges the consumers and projections `monitor` sees now.
    public static func evaluate(_ monitor: PipelineMonitor, now: Date = Date()) async throws -> PipelineHealth {
        let snapshot = try await monitor.snapshot(now: now)
        var reasons: [Reason] = []
        for consumer in snapshot.consumers {
            if consumer.status == "stalled" {
                reasons.append(Reason(kind: "stalled", consumer: consumer.name,
                                      message: "Consumer '\(consumer.name)' is \(consumer.lagRecords) records (\(String(format: "%.1f", consumer.lagSeconds)) s) behind and has not moved since \(consumer.lastProgress.formatted(.iso8601)).",
                                      lagRecords: consumer.lagRecords, lagSeconds: consumer.lagSeconds, since: consumer.lastProgress))
            }
            // The monitor's sample already read the consumer's dead letters.
            if consumer.failedDeadLetters > 0, let first = consumer.firstFailedDeadLetter {
                let held = consumer.heldDeadLetters > 0 ? "; \(consumer.heldDeadLetters) later record(s) of held keys wait behind" : ""
                reasons.append(Reason(kind: "dead-letters", consumer: consumer.name,
                                      message: "Consumer '\(consumer.name)' has \(consumer.failedDeadLetters) failed dead letter(s)\(held); the first, at position \(first.position) (key '\(first.key)'), failed with: \(first.error.prefix(200)). Retry or skip it (kiroku deadletters, or POST /api/deadletters/\(consumer.name)/\(first.position)/retry).",
                                      lagRecords: consumer.lagRecords, lagSeconds: consumer.lagSeconds, since: consumer.lastProgress,
                                      deadLetter: first,
                                      failedDeadLetters: consumer.failedDeadLetters, heldDeadLetters: consumer.heldDeadLetters))
            }
        }
        for projection in snapshot.projections {
            if projection.state == "failed" {
                reasons.append(Reason(kind: "failed", projection: projection.name, version: projection.version,
                                      message: "Projection '\(projection.name)' v\(projection.version) failed at position \(projection.position): \(projection.error ?? "unknown error"). Fix its apply, then restart or rebuild it.",
                                      lagRecords: projection.lag, since: projection.lastProgress))
            } else if projection.stalled {
                reasons.append(Reason(kind: "stalled", projection: projection.name, version: projection.version,
                                      message: "Projection '\(projection.name)' v\(projection.version) (\(projection.state)) is \(projection.lag) records behind and has not moved since \(projection.lastProgress.formatted(.iso8601)). Check that the process running it is up (kiroku projections status).",
                                      lagRecords: projection.lag, lagSeconds: projection.lagSeconds, since: projection.lastProgress))
            }
        }
        return PipelineHealth(status: reasons.isEmpty ? "ok" : "unhealthy", head: snapshot.head, reasons: reasons)
    }
}
