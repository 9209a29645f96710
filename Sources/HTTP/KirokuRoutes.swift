import Foundation
import HTTPTypes
import Hummingbird
import KirokuFeed
import KirokuLog

/// Kiroku's HTTP routes, for a service to mount on its own Hummingbird router (or for
/// ``KirokuServer`` to serve alone):
///
/// - `GET /health`: 200 with `{"status": "ok", …}` while every consumer makes progress; 503
///   with the reasons (``PipelineHealth``) when one is stalled or has failed dead letters.
/// - `GET /metrics`: the Prometheus text format (head, per consumer position, lag, stalled).
/// - `GET /api/consumers`: the consumers with position, lag, status and lease holder.
///
/// ```swift
/// let router = Router()
/// KirokuRoutes<BasicRequestContext>(log: log).addRoutes(to: router.group("kiroku"))
/// ```
public struct KirokuRoutes<Context: RequestContext>: Sendable {
    /// The log served.
    public let log: EventLog

    /// Routes for `log`.
    public init(log: EventLog) { self.log = log }

    /// Adds the routes to `group`.
    public func addRoutes(to group: RouterGroup<Context>) {
        let log = log
        group.get("health") { _, _ -> EditedResponse<String> in
            let health = try await PipelineHealth.evaluate(log)
            return EditedResponse(status: health.isHealthy ? .ok : .serviceUnavailable,
                                  headers: [.contentType: "application/json; charset=utf-8"], response: try Self.json(health))
        }
        group.get("metrics") { _, _ -> EditedResponse<String> in
            EditedResponse(headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], response: try await MetricsText.scrape(log))
        }
        group.get("api/consumers") { _, _ -> EditedResponse<String> in
            var rows: [ConsumerRow] = []
            for consumer in try await Consumers(log: log).list() {
                let lease = try await ConsumerLease.holder(of: consumer.name, in: log)
                rows.append(ConsumerRow(name: consumer.name, position: consumer.position, lagRecords: consumer.lagRecords,
                                        lagSeconds: consumer.lagSeconds, status: consumer.isStalled ? "stalled" : "ok",
                                        holder: lease.flatMap { $0.expiresAt > Date() ? $0.holder : nil }))
            }
            return EditedResponse(headers: [.contentType: "application/json; charset=utf-8"], response: try Self.json(rows))
        }
    }

    struct ConsumerRow: Codable {
        var name: String
        var position: UInt64
        var lagRecords: UInt64
        var lagSeconds: Double
        var status: String
        var holder: String?
    }

    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
