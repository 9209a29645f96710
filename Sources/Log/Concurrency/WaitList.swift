/// Tasks waiting for something to happen, each resumed exactly once: with a value when what
/// it waits for holds, with an error when it cannot happen any more, with `CancellationError`
/// when its task is cancelled. The one waiting mechanism of the package (the log's head
/// monitor and the projection runner's read-your-writes waits).
///
/// Whoever changes what waiters wait on must change it first and call ``recheck(_:)`` after:
/// a waiter checks at registration, under the list's lock, and a recheck takes the same lock,
/// so no change falls between the two.
package final class WaitList<Condition: Sendable, Value: Sendable>: Sendable {
    private struct Waiter {
        let id: UInt64
        let condition: Condition
        let continuation: CheckedContinuation<Value, any Error>
    }

    private let waiters = Locked<(nextId: UInt64, list: [Waiter])>((0, []))

    package init() {}

    /// Whether any task waits.
    package var isEmpty: Bool { waiters.withLock { $0.list.isEmpty } }

    /// Waits until `resolve(condition)` gives a result. `resolve` runs now and at each
    /// ``recheck(_:)``, with the list's lock held: it must only read state, quickly.
    /// `registered` runs (without the lock) once the waiter is in the list.
    package func wait(for condition: Condition, registered: @Sendable () -> Void = {},
                      _ resolve: @escaping (Condition) -> Result<Value, any Error>?) async throws -> Value {
        let id = waiters.withLock { state -> UInt64 in
            defer { state.nextId += 1 }
            return state.nextId
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
                let immediate = waiters.withLock { state -> Result<Value, any Error>? in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if let result = resolve(condition) { return result }
                    state.list.append(Waiter(id: id, condition: condition, continuation: continuation))
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) } else { registered() }
            }
        } onCancel: {
            let cancelled = waiters.withLock { state -> Waiter? in
                guard let index = state.list.firstIndex(where: { $0.id == id }) else { return nil }
                return state.list.remove(at: index)
            }
            cancelled?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Resumes every waiter whose condition `resolve` now gives a result for.
    package func recheck(_ resolve: (Condition) -> Result<Value, any Error>?) {
        let ready = waiters.withLock { state -> [(CheckedContinuation<Value, any Error>, Result<Value, any Error>)] in
            var ready: [(CheckedContinuation<Value, any Error>, Result<Value, any Error>)] = []
            state.list.removeAll { waiter in
                guard let result = resolve(waiter.condition) else { return false }
                ready.append((waiter.continuation, result))
                return true
            }
            return ready
        }
        for (continuation, result) in ready { continuation.resume(with: result) }
    }
}
