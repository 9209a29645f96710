import KirokuLog
import KirokuNATS
import Logging
import ServiceLifecycle

/// What the relay and the mirror share: a session per connection, retried with backoff
/// until cancelled, ended only by an error retrying cannot fix.
struct Reconnecting: Sendable {
    let client: NATSClient
    let logger: Logger
    /// "Relay" or "Mirror", for the log lines.
    let name: String
    let stream: String
    /// The error codes that stop the service instead of a retry.
    let fatal: Set<KirokuError.Code>

    /// Runs `session` on a new connection after each failure (50 ms, doubling to 2 s). The
    /// backoff starts over only after a session made progress (`progress` grew): a cluster
    /// electing a leader accepts connections but refuses the stream for seconds.
    ///
    /// - Parameter retried: called with each error retried after.
    func run(progress: @Sendable () -> Int, retried: (any Error) -> Void,
             session: (NATSConnection) async throws -> Void) async throws {
        var backoff = Duration.milliseconds(50)
        while !Task.isCancelled {
            let before = progress()
            do {
                let connection = try await client.connect()
                defer { connection.close() }
                try await session(connection)
            } catch is CancellationError {
                return
            } catch let error as KirokuError where fatal.contains(error.code) {
                logger.error("The \(name.lowercased()) stopped", metadata: ["stream": "\(stream)", "error": "\(error)"])
                throw error
            } catch {
                if Task.isCancelled { return }
                if progress() > before { backoff = .milliseconds(50) }
                retried(error)
                logger.warning("\(name) retrying", metadata: ["stream": "\(stream)", "error": "\(error)", "after": "\(backoff)"])
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(2))
            }
        }
    }

    /// Runs a service's `loop` until cancelled or a graceful shutdown, and keeps the error it
    /// stops with (`recordFailure`) so that waits on the service end with it.
    static func serve(recordFailure: (KirokuError) -> Void, _ loop: @escaping @Sendable () async throws -> Void) async throws {
        do {
            try await cancelWhenGracefulShutdown(loop)
        } catch let error as KirokuError {
            recordFailure(error)
            throw error
        }
    }

    /// Polls `reached` every 5 ms until it holds; ends at once with the service's failure,
    /// and with ``KirokuError/Code/natsTimeout`` (`timedOut`'s message) after `timeout`.
    static func waitUntil(timeout: Duration, failure: () -> KirokuError?, timedOut: () throws -> String,
                          _ reached: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let failure = failure() { throw failure }
            if try reached() { return }
            guard ContinuousClock.now < deadline else { throw KirokuError(.natsTimeout, try timedOut()) }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
