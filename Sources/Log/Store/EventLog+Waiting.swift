extension EventLog {
    /// Waits until the log's head position is past `position`, and returns the new head.
    ///
    /// An append committed by this process wakes the waiter as soon as its commit is done; one
    /// by another process within about 2 ms (LMDB's last transaction id is watched while
    /// anyone waits).
    ///
    /// - Throws: `CancellationError` when the task is cancelled; ``KirokuError/Code/closed``.
    public func waitForAppends(after position: UInt64) async throws -> UInt64 {
        try await heads.wait(after: position)
    }
}
