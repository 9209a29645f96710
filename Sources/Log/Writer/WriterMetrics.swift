import Metrics

/// What the writer reports through swift-metrics (no-ops until the service bootstraps a
/// metrics backend, e.g. swift-prometheus; `KirokuHTTP`'s `/metrics` shows them then):
///
/// - `kiroku_log_appended_records_total`: records committed (its rate is the append rate);
/// - `kiroku_log_commit_records`: records per commit (group-commit sizes, a histogram);
/// - `kiroku_log_commit_duration_seconds`: each commit's transaction, its fsync included when
///   durability is `.sync` (a histogram);
/// - `kiroku_log_flush_duration_seconds`: each periodic fsync with `.flushEvery`.
struct WriterMetrics: Sendable {
    let appended = Counter(label: "kiroku_log_appended_records_total")
    let commitRecords = Recorder(label: "kiroku_log_commit_records", aggregate: true)
    let commitDuration = Metrics.Timer(label: "kiroku_log_commit_duration_seconds")
    let flushDuration = Metrics.Timer(label: "kiroku_log_flush_duration_seconds")
}
