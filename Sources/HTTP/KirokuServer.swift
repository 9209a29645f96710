import Hummingbird
import KirokuLog
import Logging
import NIOCore
import ServiceLifecycle

/// Kiroku's routes (``KirokuRoutes``) served alone, as `kiroku serve` does, with the pipeline
/// monitor sampling beside them: a `Service` for a `ServiceGroup`. Binds to loopback unless
/// told otherwise; writes only with the token (``HTTPAccess``).
public struct KirokuServer: Service {
    /// The log served.
    public let log: EventLog
    /// Where it listens; port 0 picks a free one (see `onRunning`).
    public let host: String
    public let port: Int
    /// The routes served.
    public let routes: KirokuRoutes<BasicRequestContext>
    private let onRunning: @Sendable (Int) async -> Void
    private let logger: Logger

    /// A server for `log` on `host:port`; `onRunning` gets the bound port once it listens.
    public init(log: EventLog, host: String = "127.0.0.1", port: Int = 8080,
                options: KirokuRoutes<BasicRequestContext>.Options = .init(),
                logger: Logger = Logger(label: "kiroku.http", factory: { _ in SwiftLogNoOpLogHandler() }),
                onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) {
        self.log = log
        self.host = host
        self.port = port
        self.routes = KirokuRoutes(log: log, options: options)
        self.logger = logger
        self.onRunning = onRunning
    }

    /// Serves until cancelled or graceful shutdown.
    public func run() async throws {
        let router = Router()
        routes.addRoutes(to: router.group())
        let onRunning = onRunning
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port)),
                              services: [routes.monitor],
                              onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? -1) },
                              logger: logger)
        try await app.run()
    }
}

/// The options of the routes ``KirokuServer`` serves.
public typealias KirokuRoutesOptions = KirokuRoutes<BasicRequestContext>.Options
