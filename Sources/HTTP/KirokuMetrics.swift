import CoreMetrics
import Prometheus

/// swift-metrics through swift-prometheus, with buckets that fit Kiroku's latencies (commits
/// and searches take micro- to milliseconds; the default buckets start at 5 ms).
public enum KirokuMetrics {
    /// A `PrometheusMetricsFactory` on `registry` with Kiroku's histogram buckets: commit and
    /// flush latency from 50 µs to 2.5 s, search latency from 20 µs to 1 s, commit sizes from
    /// 1 to 4096 records. Bootstrap swift-metrics with it once, and give `registry` to
    /// ``KirokuRoutes/Options/metrics``:
    ///
    /// ```swift
    /// let registry = PrometheusCollectorRegistry()
    /// MetricsSystem.bootstrap(KirokuMetrics.factory(registry: registry))
    /// ```
    public static func factory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        let storage: [Duration] = [.microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
                                   .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                   .milliseconds(100), .milliseconds(250), .seconds(1), .milliseconds(2500)]
        factory.durationHistogramBuckets["kiroku_log_commit_duration_seconds"] = storage
        factory.durationHistogramBuckets["kiroku_log_flush_duration_seconds"] = storage
        factory.durationHistogramBuckets["kiroku_search_duration_seconds"] = [
            .microseconds(20), .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
            .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .seconds(1)]
        factory.durationHistogramBuckets["kiroku_feed_handler_duration"] = storage
        factory.valueHistogramBuckets["kiroku_log_commit_records"] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096]
        return factory
    }

    private static let bootstrapped: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(factory(registry: registry))
        return registry
    }()

    /// Bootstraps swift-metrics with ``factory(registry:)`` the first time it is called (later
    /// calls return the same registry): for a process that has no metrics backend of its own,
    /// as `kiroku serve`. A process may bootstrap swift-metrics only once. Call it before opening
    /// the log: the writer makes its metrics when the log opens, and swift-metrics handlers made
    /// before the bootstrap stay no-ops.
    public static func bootstrapPrometheus() -> PrometheusCollectorRegistry { bootstrapped }
}
