import KirokuLog
import Logging

/// Connects to a NATS cluster: tries the given servers and those the cluster announced
/// (`connect_urls`), in turn, until one answers. Long-running services (the relay, the
/// mirror) ask it for a new connection after each failure.
public final class NATSClient: Sendable {
    /// The servers given, then those learned from the cluster.
    public var servers: [NATSServerURL] { known.withLock { $0.servers } }
    private let name: String
    private let connectTimeout: Duration
    private let logger: Logger
    private struct Known {
        var servers: [NATSServerURL]
        var next = 0
    }
    private let known: Locked<Known>

    /// A client of the cluster reachable at `servers`.
    public init(servers: [NATSServerURL], name: String = "kiroku", connectTimeout: Duration = .seconds(2),
                logger: Logger = Logger(label: "kiroku.nats")) {
        self.name = name
        self.connectTimeout = connectTimeout
        self.logger = logger
        known = Locked(Known(servers: servers))
    }

    /// A connection to the first server that answers, starting after the one used last.
    ///
    /// - Throws: ``KirokuError/Code/natsUnreachable`` naming every server tried when none answered.
    public func connect() async throws -> NATSConnection {
        let (order, start) = known.withLock { ($0.servers, $0.next) }
        var failures: [String] = []
        for step in 0..<order.count {
            try Task.checkCancellation()
            let index = (start + step) % order.count
            let server = order[index]
            do {
                let connection = try await NATSConnection.connect(to: server, name: name, timeout: connectTimeout, logger: logger)
                learn(from: connection, usedIndex: index)
                return connection
            } catch let error as KirokuError {
                failures.append("\(server): \(error.message)")
            }
        }
        known.withLock { $0.next = ($0.next + 1) % max(1, $0.servers.count) }
        throw KirokuError(.natsUnreachable, "No NATS server answered (\(failures.joined(separator: "; "))); start nats-server, or give the addresses of running ones with --nats.")
    }

    private func learn(from connection: NATSConnection, usedIndex: Int) {
        let announced = (connection.info.connectURLs ?? []).compactMap { try? NATSServerURL(parsing: $0) }
        known.withLock { known in
            for url in announced where !known.servers.contains(url) { known.servers.append(url) }
            // Next time, start with the server after this one: a failed server is not retried first.
            known.next = (usedIndex + 1) % known.servers.count
        }
    }
}
