import DequeModule
import KirokuLog

/// The low watermark of completed work: every position up to it is handled (or was not
/// selected). Records complete out of order across lanes; the checkpoint may only move past
/// a position once everything before it is done, so a crash re-delivers at most what was in
/// flight.
final class Watermark: Sendable {
    private struct State {
        /// Dispatched and not yet completed or passed, in position order.
        var pending = Deque<UInt64>()
        var completed = Set<UInt64>()
        /// Every position up to here was read from the log.
        var scanned: UInt64
        var peakInFlight = 0
    }

    private let state: Locked<State>

    init(startingAfter position: UInt64) {
        state = Locked(State(scanned: position))
    }

    /// Positions handed to lanes, in increasing order.
    func dispatched(_ positions: [UInt64]) {
        guard !positions.isEmpty else { return }
        state.withLock { state in
            state.pending.append(contentsOf: positions)
            state.peakInFlight = max(state.peakInFlight, state.pending.count)
        }
    }

    func completed(_ position: UInt64) {
        state.withLock { state in
            state.completed.insert(position)
            while let first = state.pending.first, state.completed.remove(first) != nil {
                state.pending.removeFirst()
            }
        }
    }

    func scanned(through position: UInt64) {
        state.withLock { $0.scanned = max($0.scanned, position) }
    }

    /// Every position up to this one is done.
    var position: UInt64 {
        state.withLock { state in state.pending.first.map { $0 - 1 } ?? state.scanned }
    }

    /// Records dispatched and not yet done, now and at most so far.
    var inFlight: (now: Int, peak: Int) {
        state.withLock { ($0.pending.count, $0.peakInFlight) }
    }
}
