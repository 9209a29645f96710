import Foundation
import KirokuFeed
import KirokuLog
import Prometheus

/// The Prometheus text of `GET /metrics`, read from the store at each scrape: the head, and per
/// consumer its position, lag (records and seconds) and whether it is stalled. Labels are
/// consumer names only (low cardinality). A registry of its own per scrape: the library never
/// bootstraps swift-metrics.
enum MetricsText {
    static func scrape(_ log: EventLog, now: Date = Date()) async throws -> String {
        let registry = PrometheusCollectorRegistry()
        func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Gauge {
            let descriptor = MetricNameDescriptor(namespace: "kiroku", metricName: name, unitName: "", helpText: help)
            return labels.isEmpty ? registry.makeGauge(descriptor: descriptor) : registry.makeGauge(descriptor: descriptor, labels: labels)
        }
        let statistics = try log.statistics()
        gauge("log_head_position", "The position of the log's last record.").set(to: Double(statistics.headPosition))
        gauge("log_keys", "Keys in the log.").set(to: Double(statistics.keys))
        gauge("log_file_bytes", "Size of the log's data file.").set(to: Double(statistics.fileBytes))
        gauge("log_removed_records", "Records removed by deletions and retention.").set(to: Double(statistics.removedRecords))
        for consumer in try await Consumers(log: log).list(now: now) {
            let labels = [("consumer", consumer.name)]
            gauge("consumer_position", "The consumer's checkpoint.", labels).set(to: Double(consumer.position))
            gauge("consumer_lag_records", "Records past the consumer's checkpoint.", labels).set(to: Double(consumer.lagRecords))
            gauge("consumer_lag_seconds", "Age of the oldest record the consumer has not handled.", labels).set(to: consumer.lagSeconds)
            gauge("consumer_stalled", "1 when the consumer is behind and has not moved for its stall time.", labels).set(to: consumer.isStalled ? 1.0 : 0.0)
        }
        return registry.emitToString()
    }
}
