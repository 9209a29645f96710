/// Failures scheduled for an environment's next flushes and commits: an `fsync` that returns
/// `EIO`, as a failing disk does. Tests use it to check how the writer reacts to a write the
/// disk lost, which no healthy machine can produce on demand.
final class FaultSchedule: Sendable {
    /// Where a failure can be scheduled.
    enum Point: Hashable, Sendable {
        /// `mdb_env_sync` (the periodic flush of `.noSync`, and the flush on close).
        case sync
        /// `mdb_txn_commit` of a write transaction (its fsync under `.full`).
        case commit
    }

    private let scheduled = Locked<[Point: [Int32]]>([:])

    /// Makes the next `count` operations at `point` fail with the system error `code`.
    func fail(_ point: Point, code: Int32, count: Int = 1) {
        scheduled.withLock { $0[point, default: []] += Array(repeating: code, count: count) }
    }

    /// The error scheduled for this operation at `point`, if any (and removes it).
    func take(_ point: Point) -> Int32? {
        scheduled.withLock { faults in
            guard var codes = faults[point], !codes.isEmpty else { return nil }
            let code = codes.removeFirst()
            faults[point] = codes
            return code
        }
    }
}
