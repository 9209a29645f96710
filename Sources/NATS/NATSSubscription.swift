import DequeModule
import KirokuLog
import NIOCore

/// Messages delivered to one subscription, in order, waited for with a timeout.
///
/// Messages queue until taken with ``next(timeout:)``. When the connection closes, the wait
/// (and every later one, once the queue is empty) fails with the connection's error; a
/// cancelled task's wait ends with `CancellationError`.
public final class NATSSubscription: Sendable {
    /// The subject (or wildcard) subscribed to.
    public let subject: String
    let sid: UInt64
    private let eventLoop: any EventLoop

    private struct State {
        var queue = Deque<NATSMessage>()
        var waiter: (id: UInt64, continuation: CheckedContinuation<NATSMessage, any Error>, timer: Scheduled<Void>?)?
        var nextWaiter: UInt64 = 0
        var failure: (any Error)?
    }
    private let state = Locked(State())

    init(subject: String, sid: UInt64, eventLoop: any EventLoop) {
        self.subject = subject
        self.sid = sid
        self.eventLoop = eventLoop
    }

    /// How many messages wait to be taken.
    public var queued: Int { state.withLock { $0.queue.count } }

    /// The next message; waits up to `timeout` for one.
    ///
    /// - Throws: ``KirokuError`` with ``KirokuError/Code/natsTimeout`` when none came in time,
    ///   the connection's error when it closed (``KirokuError/Code/natsConnectionLost``),
    ///   `CancellationError` when the task is cancelled.
    public func next(timeout: Duration) async throws -> NATSMessage {
        if let message = try takeQueued() { return message }
        let id = state.withLock { state -> UInt64 in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<NATSMessage, any Error>) in
                let ready: Result<NATSMessage, any Error>? = state.withLock { state in
                    if let message = state.queue.popFirst() { return .success(message) }
                    if let failure = state.failure { return .failure(failure) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    let timer = eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.nanoseconds))) { [weak self] () -> Void in
                        guard let self else { return }
                        self.resumeWaiter(id, with: .failure(KirokuError(.natsTimeout, "No message arrived on '\(self.subject)' within \(timeout); the server or the stream may be down or electing a leader.")))
                    }
                    state.waiter = (id, continuation, timer)
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            resumeWaiter(id, with: .failure(CancellationError()))
        }
    }

    /// The messages queued now, at least one (waiting up to `timeout` for it) and at most
    /// `limit`: one wake-up for a burst, as the relay takes its acknowledgements.
    ///
    /// - Throws: as ``next(timeout:)``.
    public func next(upTo limit: Int, timeout: Duration) async throws -> [NATSMessage] {
        var batch = [try await next(timeout: timeout)]
        state.withLock { state in
            while batch.count < limit, let message = state.queue.popFirst() { batch.append(message) }
        }
        return batch
    }

    private func takeQueued() throws -> NATSMessage? {
        try state.withLock { state throws -> NATSMessage? in
            if let message = state.queue.popFirst() { return message }
            if let failure = state.failure { throw failure }
            return nil
        }
    }

    private func resumeWaiter(_ id: UInt64, with result: Result<NATSMessage, any Error>) {
        let waiter = state.withLock { state -> CheckedContinuation<NATSMessage, any Error>? in
            guard let waiter = state.waiter, waiter.id == id else { return nil }
            state.waiter = nil
            waiter.timer?.cancel()
            return waiter.continuation
        }
        waiter?.resume(with: result)
    }

    /// Called by the connection for each message.
    func deliver(_ message: NATSMessage) {
        let waiter = state.withLock { state -> CheckedContinuation<NATSMessage, any Error>? in
            guard state.failure == nil else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                waiter.timer?.cancel()
                return waiter.continuation
            }
            state.queue.append(message)
            return nil
        }
        waiter?.resume(returning: message)
    }

    /// Called by the connection when it closes or the subscription ends: queued messages can
    /// still be taken, then every wait fails with `error`.
    func finish(_ error: any Error) {
        let waiter = state.withLock { state -> CheckedContinuation<NATSMessage, any Error>? in
            if state.failure == nil { state.failure = error }
            guard state.queue.isEmpty, let waiter = state.waiter else { return nil }
            state.waiter = nil
            waiter.timer?.cancel()
            return waiter.continuation
        }
        waiter?.resume(throwing: error)
    }
}
