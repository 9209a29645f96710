import Foundation
import KirokuFeed
import KirokuLog
import Prometheus

/// The Prometheus text of `GET /metrics`.
///
/// Read from the store at each scrape (so `kiroku serve` shows them for a store another process
/// writes): the log's head, keys, size, removed records and append rate; per consumer its
/// position, lag (records and seconds), rate, stalled, failed dead letters; per projection its
/// active version, position, lag, rate, stalled, failed and a rebuild's lag. Labels are consumer
/// and projection names only (low cardinality). These fill a registry of their own per scrape.
///
/// Then the process's own metrics, when the service gave the registry it bootstrapped
/// swift-metrics with: the writer's appended records, commit sizes and commit/fsync latency
/// histograms, the processors' handled, failed (retried) and dead-lettered records and handler
/// latency, and search latency per view.
enum MetricsText {
    static func scrape(_ monitor: PipelineMonitor, process: PrometheusCollectorRegistry?, now: Date = Date()) async throws -> String {
        let registry = PrometheusCollectorRegistry()
        func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Gauge {
            let descriptor = MetricNameDescriptor(namespace: "kiroku", metricName: name, unitName: "", helpText: help)
            return labels.isEmpty ? registry.makeGauge(descriptor: descriptor) : registry.makeGauge(descriptor: descriptor, labels: labels)
        }
        let snapshot = try await monitor.snapshot(now: now)
        gauge("log_head_position", "The position of the log's last record.").set(to: Double(snapshot.head))
        gauge("log_keys", "Keys in the log.").set(to: Double(snapshot.keys))
        gauge("log_file_bytes", "Size of the log's data file.").set(to: Double(snapshot.fileBytes))
        gauge("log_removed_records", "Records removed by deletions and retention.").set(to: Double(snapshot.removedRecords))
        gauge("log_append_rate", "Records appended per second over the last few seconds.").set(to: snapshot.appendRate)
        for consumer in snapshot.consumers {
            let labels = [("consumer", consumer.name)]
            gauge("consumer_position", "The consumer's checkpoint.", labels).set(to: Double(consumer.position))
            gauge("consumer_lag_records", "Records past the consumer's checkpoint.", labels).set(to: Double(consumer.lagRecords))
            gauge("consumer_lag_seconds", "Age of the oldest record the consumer has not handled.", labels).set(to: consumer.lagSeconds)
            gauge("consumer_rate", "Records the consumer handled per second over the last few seconds.", labels).set(to: consumer.rate)
            gauge("consumer_stalled", "1 when the consumer is behind and has not moved for its stall time.", labels).set(to: consumer.status == "stalled" ? 1.0 : 0.0)
            gauge("consumer_dead_letters", "The consumer's dead letters left failed.", labels).set(to: Double(consumer.failedDeadLetters))
        }
        // Per projection name: the serving version, and a rebuild's progress beside it.
        for name in Set(snapshot.projections.map(\.name)).sorted() {
            let versions = snapshot.projections.filter { $0.name == name }
            let labels = [("projection", name)]
            let serving = versions.last { $0.state == "active" } ?? versions.last { $0.state != "retired" }
            if let serving {
                gauge("projection_version", "The projection's active version (or the one being built).", labels).set(to: Double(serving.version))
                gauge("projection_position", "What the projection's active version has applied.", labels).set(to: Double(serving.position))
                gauge("projection_lag_records", "Records past what the projection's active version has applied.", labels).set(to: Double(serving.lag))
                gauge("projection_lag_seconds", "Age of the oldest record the projection's active version has not applied.", labels).set(to: serving.lagSeconds)
                gauge("projection_rate", "Records the projection applied per second over the last few seconds.", labels).set(to: serving.rate)
            }
            gauge("projection_stalled", "1 when a version of the projection is behind and has not moved for the stall time.", labels)
                .set(to: versions.contains { $0.stalled } ? 1.0 : 0.0)
            gauge("projection_failed", "1 when a version of the projection failed.", labels).set(to: versions.contains { $0.state == "failed" } ? 1.0 : 0.0)
            let building = versions.last { $0.state == "building" }
            gauge("projection_rebuild_lag_records", "Records a rebuilding version still has to apply (0 when none builds).", labels)
                .set(to: Double(building?.lag ?? 0))
        }
        var text = registry.emitToString()
        if let process { text += process.emitToString() }
        return text
    }
}
