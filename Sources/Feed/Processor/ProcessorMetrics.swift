import Metrics

/// The processor's metrics, created once per consumer, labelled with its name only (low
/// cardinality: never a key or a position).
struct ProcessorMetrics: Sendable {
    /// Records between the head and the checkpoint.
    let lag: Gauge
    /// Records the handler completed.
    let processed: Counter
    /// Handler runs that threw (every attempt counts).
    let failed: Counter
    /// Records sent to the dead-letter store.
    let deadLettered: Counter
    /// How long each handler run took.
    let handlerDuration: Metrics.Timer

    init(consumer: String) {
        let dimensions = [("consumer", consumer)]
        lag = Gauge(label: "kiroku_feed_lag_records", dimensions: dimensions)
        processed = Counter(label: "kiroku_feed_processed_total", dimensions: dimensions)
        failed = Counter(label: "kiroku_feed_failed_total", dimensions: dimensions)
        deadLettered = Counter(label: "kiroku_feed_dead_lettered_total", dimensions: dimensions)
        handlerDuration = Metrics.Timer(label: "kiroku_feed_handler_duration", dimensions: dimensions)
    }
}
