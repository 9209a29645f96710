import Foundation

/// Wakes tasks waiting for the log to grow.
///
/// In-process appends wake waiters the moment their commit is done: the writer publishes each
/// new head. Appends by another process are noticed by watching LMDB's last transaction id,
/// which costs no system call: every 250 µs after a change, backing off to every 2 ms while
/// nothing changes, and only while some task is waiting.
final class HeadMonitor: Sendable {
    private struct State {
        var head: UInt64
        var polling = false
        var closed = false
    }

    private let state: Locked<State>
    /// Waiters by the position they wait to see passed; resumed with the head.
    private let waiters = WaitList<UInt64, UInt64>()
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
        let moved = state.withLock { state -> Bool in
            guard head > state.head else { return false }
            state.head = head
            return true
        }
        guard moved else { return }
        waiters.recheck { after in after < head ? .success(head) : nil }
    }

    /// Waits until the head is past `position`; returns the head. Throws `CancellationError`
    /// when the task is cancelled, ``KirokuError/Code/closed`` when the log closes.
    func wait(after position: UInt64) async throws -> UInt64 {
        let state = state
        return try await waiters.wait(for: position, registered: { [self] in if claimPolling() { startPoller() } }) { after in
            let now = state.withLock { ($0.head, $0.closed) }
            if now.1 { return .failure(Self.closedError) }
            return now.0 > after ? .success(now.0) : nil
        }
    }

    private static var closedError: KirokuError { KirokuError(.closed, "The log was closed while waiting for appends.") }

    /// Fails every waiter; later waits fail at once.
    func close() {
        state.withLock { $0.closed = true }
        waiters.recheck { _ in .failure(Self.closedError) }
    }

    /// Whether this caller is the one to start the poller (none runs).
    private func claimPolling() -> Bool {
        state.withLock { state in
            if state.polling || state.closed { return false }
            state.polling = true
            return true
        }
    }

    /// Watches LMDB's last transaction id while anyone waits, for appends by other processes.
    private func startPoller() {
        Task.detached { [self] in
            var lastTransaction: Int?
            var interval = Self.fastPoll
            while true {
                if waiters.isEmpty || state.withLock({ $0.closed }) {
                    state.withLock { $0.polling = false }
                    // A waiter that came meanwhile saw a poller running: look again, and go on
                    // if nobody else has started one.
                    if waiters.isEmpty || !claimPolling() { return }
                }
                guard let transaction = environment.lastTransactionId() else {
                    state.withLock { $0.polling = false }
                    return
                }
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
