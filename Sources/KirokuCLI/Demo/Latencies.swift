import Foundation
import Histogram
import KirokuLog

/// Latencies recorded from any task into an HdrHistogram (microseconds, 3 significant digits).
final class Latencies: Sendable {
    private let histogram = Locked(Histogram<UInt64>(numberOfSignificantValueDigits: .three))

    func record(_ duration: Duration) {
        let micros = max(0, duration.microseconds)
        histogram.withLock { _ = $0.record(UInt64(micros)) }
    }

    func record(since date: Date) {
        let micros = max(0, Date().timeIntervalSince(date) * 1_000_000)
        histogram.withLock { _ = $0.record(UInt64(micros)) }
    }

    var count: UInt64 { histogram.withLock { $0.totalCount } }

    /// p50, p90, p99, p99.9 and max, in microseconds.
    func summary() -> [String: UInt64] {
        histogram.withLock { h in
            guard h.totalCount > 0 else { return ["count": 0] }
            return ["count": h.totalCount, "p50": h.valueAtPercentile(50), "p90": h.valueAtPercentile(90), "p99": h.valueAtPercentile(99),
                    "p999": h.valueAtPercentile(99.9), "max": h.maxRecorded]
        }
    }

    /// `p50 1.2 ms  p90 …` for people.
    func line() -> String {
        let s = summary()
        guard (s["count"] ?? 0) > 0 else { return "no samples" }
        func format(_ micros: UInt64) -> String {
            micros >= 1000 ? String(format: "%.1f ms", Double(micros) / 1000) : "\(micros) µs"
        }
        return ["p50", "p90", "p99", "p999", "max"].map { "\($0 == "p999" ? "p99.9" : $0) \(format(s[$0]!))" }.joined(separator: "  ") + "  (\(s["count"]!) samples)"
    }
}

/// The latest acknowledged append and when it was acknowledged, shared between appending
/// tasks and a sampler that times how long the append takes to show (in a view, a feed).
public final class LatestAppend: Sendable {
    private let value = Locked<(position: UInt64, at: ContinuousClock.Instant)?>(nil)

    /// No append yet.
    public init() {}

    /// Records an acknowledged append (older positions than the latest are ignored).
    public func set(_ position: UInt64) {
        let now = ContinuousClock.now
        value.withLock { current in
            if (current?.position ?? 0) < position { current = (position, now) }
        }
    }
    /// The latest acknowledged append, or `nil`.
    public func get() -> (position: UInt64, at: ContinuousClock.Instant)? { value.withLock { $0 } }

    /// Every `interval` while `going()` holds, times the newest acknowledged append from its
    /// acknowledgement until `applied` returns for its position, and passes the time to
    /// `record`. Each append is timed once: timing one again after the appends stop would add
    /// idle time to its lag.
    public func sample(every interval: Duration, while going: () -> Bool, until applied: (UInt64) async throws -> Void,
                       record: (Duration) -> Void) async throws {
        var sampled: UInt64 = 0
        while going() {
            try await Task.sleep(for: interval)
            guard let (position, at) = get(), position > sampled else { continue }
            sampled = position
            try await applied(position)
            record(ContinuousClock.now - at)
        }
    }
}
