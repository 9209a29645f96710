import Hummingbird
import KirokuLog
import Logging
import NIOCore
import ServiceLifecycle

/// Kiroku's routes (``KirokuRoutes``) served alone, as `kiroku serve` does: a `Service` for a
/// `ServiceGroup`. Binds to loopback unless told otherwise.
public struct KirokuServer: Service {
    /// The log served.
    public let log: EventLog
    /// Where it listens; port 0 picks a free one (see `onRunning`).
    public let host: String
    public let port: Int
    private let onRunning: @Sendable (Int) async -> Void
    private let logger: Logger

    /// A server for `log` on `host:port`; `onRunning` gets the bound port once it listens.
    public init(log: EventLog, host: String = "127.0.0.1", port: Int = 8080,
                logger: Logger = Logger(label: "kiroku.http", factory: { _ in SwiftLogNoOpLogHandler() }),
                onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) {
        self.log = log
        self.host = host
        self.port = port
        self.logger = logger
        self.onRunning = onRunning
    }

    public func run() async throws {
        let router = Router()
        KirokuRoutes<BasicRequestContext>(log: log).addRoutes(to: router.group(""))
        let onRunning = onRunning
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port)),
                              onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? -1) },
                              logger: logger)
        try await app.run()
    }
}
