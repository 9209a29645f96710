import ArgumentParser
import Foundation
import KirokuHTTP
import KirokuLog
import Logging
import ServiceLifecycle

/// `kiroku serve`: the store's health, metrics and JSON API over HTTP.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve /health, /metrics (Prometheus) and /api/consumers for a store until interrupted.",
        discussion: "Binds to 127.0.0.1 unless --host says otherwise. /health answers 503 with the reasons while a consumer is stalled or has failed dead letters.")

    @Argument(help: "The store directory.") var store: String
    @Option(help: "The port (0: any free one, printed).") var port: Int = 8080
    @Option(help: "The address to bind (default loopback only).") var host: String = "127.0.0.1"

    func run() async throws {
        guard (0...65_535).contains(port) else { throw CommandExit.input("--port \(port) is not a port; use 0 to 65535.") }
        let log = try StoreOpener.open(store)
        defer { log.close() }
        let server = KirokuServer(log: log, host: host, port: port) { bound in
            print("Serving \(log.path) on http://\(host):\(bound) (/health, /metrics, /api/consumers)")
            fflush(nil)
        }
        try await ServiceGroup(services: [server], gracefulShutdownSignals: [.sigint, .sigterm],
                               logger: Logger(label: "kiroku.serve", factory: { _ in SwiftLogNoOpLogHandler() })).run()
    }
}
