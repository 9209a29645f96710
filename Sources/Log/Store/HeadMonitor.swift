import Foundation

/// Wakes tasks waiting for the log to grow.
///
/// In-process appends wake waiters the moment their commit is done: the writer publishes each
/// new head. Appends by another process are noticed by watching LMDB's last transaction id,
/// which costs no system call: every 250 µs after a change, backing off to every 2 ms while
/// nothing changes, and only while some task is waiting.
final class HeadMonitor: Sendable {
    private struct Waiter {
        let id: UInt64
        let after: UInt64
        let continuation: CheckedContinuation<UInt64, any Error>
    }

    private struct State {
        var head: UInt64
        var waiters: [Waiter] = []
        var nextId: UInt64 = 0
        var polling = false
        var closed = false
    }

    private let state: Locked<State>
    private let environment: Environment
    private let readHead: @Sendable (Transaction) throws -> UInt64

    static let fastPoll = Duration.microseconds(250)
    static let slowPoll = Duration.milliseconds(2)

    init(environment: Environment, initialHead: UInt64, readHead: @escaping @Sendable (Transaction) throws -> UInt64) {
        self.environment = environment
        self.readHead = readHead
        state = Locked(State(head: initialHead))
    }

    /// Records a new head and resumes every waiter it satisfies.
    func publish(_ head: UInt64) {
        let ready: [Waiter] = state.withLock { state in
            guard head > state.head else { return [] }
            state.head = head
            var ready: [Waiter] = []
            state.waiters.removeAll { waiter in
                guard waiter.after < head else { return false }
                ready.append(waiter)
                return true
            }
            return ready
        }
        for waiter in ready { waiter.continuation.resume(returning: head) }
    }

    /// Waits until the head is past `position`; returns the head. Throws `CancellationError`
    /// when the task is cancelled, ``KirokuError/Code/closed`` when the log closes.
    func wait(after position: UInt64) async throws -> UInt64 {
        let id = state.withLock { state -> UInt64 in
            defer { state.nextId += 1 }
            return state.nextId
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<UInt64, any Error>) in
                enum Action { case resume(UInt64), fail(any Error), wait(startPolling: Bool) }
                let action: Action = state.withLock { state in
                    if state.closed { return .fail(KirokuError(.closed, "The log was closed while waiting for appends.")) }
                    if Task.isCancelled { return .fail(CancellationError()) }
                    if state.head > position { return .resume(state.head) }
                    state.waiters.append(Waiter(id: id, after: position, continuation: continuation))
                    let start = !state.polling
                    state.polling = true
                    return .wait(startPolling: start)
                }
                switch action {
                case .resume(let head): continuation.resume(returning: head)
                case .fail(let error): continuation.resume(throwing: error)
                case .wait(let startPolling): if startPolling { startPoller() }
                }
            }
        } onCancel: {
            let cancelled = state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            cancelled?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Fails every waiter; later waits fail at once.
    func close() {
        let waiters = state.withLock { state -> [Waiter] in
            state.closed = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters {
            waiter.continuation.resume(throwing: KirokuError(.closed, "The log was closed while waiting for appends."))
        }
    }

    /// Watches LMDB's last transaction id while anyone waits, for appends by other processes.
    private func startPoller() {
        Task.detached { [self] in
            var lastTransaction: Int?
            var interval = Self.fastPoll
            while true {
                let keepGoing = state.withLock { state in
                    if state.waiters.isEmpty || state.closed {
                        state.polling = false
                        return false
                    }
                    return true
                }
                guard keepGoing, let transaction = environment.lastTransactionId() else { return }
                // The first look always reads the head: another process may have appended
                // before this poller started.
                if transaction != lastTransaction {
                    interval = Self.fastPoll
                    // What was read counts as seen, not the id `mdb_env_info` gave: a committing
                    // process writes its meta page before it publishes the id new readers take,
                    // so a read can still get the snapshot before that commit. Remembering the id
                    // of the snapshot read makes the next look read again (without this, the
                    // last append of a burst could stay unseen until the next one).
                    if let (snapshot, head) = try? environment.read({ txn in (txn.id, try readHead(txn)) }) {
                        lastTransaction = snapshot
                        publish(head)
                    }
                } else {
                    interval = min(interval * 2, Self.slowPoll)
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
