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
    private let tableWrites = Locked<[String: Int]>([:])

    /// Makes the next `count` write requests that touch table `name` fail (`EIO`), alone: the
    /// rest of their batch commits, as when a put fails.
    func failTableWrites(named name: String, count: Int) {
        tableWrites.withLock { $0[name, default: 0] += count }
    }

    /// Cancels the table-write failures not used up yet.
    func clearTableWriteFaults() {
        tableWrites.withLock { $0.removeAll() }
    }

    /// Whether a write request touching these tables is scheduled to fail (and uses up one).
    func takeTableWrite(_ names: some Sequence<String>) -> Bool {
        tableWrites.withLock { faults in
            guard !faults.isEmpty, let name = names.first(where: { (faults[$0] ?? 0) > 0 }) else { return false }
            faults[name]! -= 1
            return true
        }
    }

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
