import Foundation

/// Lets any number of transactions run at once, or one exclusive action with none running.
///
/// LMDB allows `mdb_env_set_mapsize` only while the process has no transaction open; the writer
/// needs that to grow the map, a reader needs it to adopt a size another process grew to, and
/// `close` needs it to close the environment. Transactions are short (bounded batches), so an
/// exclusive action waits at most for the ones already running; new ones wait behind it.
///
/// `@unchecked Sendable`: every field is read and written with `condition` locked.
final class TransactionGate: @unchecked Sendable {
    private let condition = NSCondition()
    private var active = 0
    private var exclusivePending = 0
    private var exclusiveRunning = false

    func enterShared() {
        condition.lock()
        while exclusivePending > 0 || exclusiveRunning { condition.wait() }
        active += 1
        condition.unlock()
    }

    func leaveShared() {
        condition.lock()
        active -= 1
        if active == 0 { condition.broadcast() }
        condition.unlock()
    }

    func withShared<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        enterShared()
        defer { leaveShared() }
        return try body()
    }

    /// Runs `body` with no transaction of this process open.
    func withExclusive<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        condition.lock()
        exclusivePending += 1
        while active > 0 || exclusiveRunning { condition.wait() }
        exclusivePending -= 1
        exclusiveRunning = true
        condition.unlock()
        defer {
            condition.lock()
            exclusiveRunning = false
            condition.broadcast()
            condition.unlock()
        }
        return try body()
    }
}
