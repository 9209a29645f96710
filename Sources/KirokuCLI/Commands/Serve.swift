import ArgumentParser
import Foundation
import KirokuHTTP
import KirokuLog
import Logging
import ServiceLifecycle

/// `kiroku serve`: the web console, health, metrics and JSON API of a store over HTTP.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the web console, /health, /metrics (Prometheus) and the JSON API for a store until interrupted.",
        discussion: """
        Binds to 127.0.0.1 unless --host says otherwise. /health answers 503 with the reasons while a consumer or \
        projection is stalled or failed. Routes that write (dead-letter retry, skip, purge; projection rebuild, switch, \
        prune) need the token: --token, else one made at start and printed with the console's address; --read-only \
        refuses them all. See docs/SERVE.md.
        """)

    @Argument(help: "The store directory.") var store: String
    @Option(help: "The port (0: any free one, printed).") var port: Int = 8080
    @Option(help: "The address to bind (default loopback only).") var host: String = "127.0.0.1"
    @Option(help: "The token writes need (Authorization: Bearer TOKEN); default: a random one, printed.") var token: String?
    @Flag(name: .customLong("read-only"), help: "Refuse every route that writes.") var readOnly = false
    @Option(name: .customLong("stall-seconds"), help: "Seconds a projection may be behind without moving before /health reports it stalled.")
    var stallSeconds: Double = 60

    func run() async throws {
        guard (0...65_535).contains(port) else { throw CommandExit.input("--port \(port) is not a port; use 0 to 65535.") }
        if readOnly, token != nil { throw CommandExit.input("Give --token or --read-only, not both.") }
        if let token, token.count < 8 || token.contains(where: \.isWhitespace) {
            throw CommandExit.input("--token must be at least 8 characters without spaces.")
        }
        guard stallSeconds > 0, stallSeconds.isFinite else { throw CommandExit.input("--stall-seconds must be more than 0.") }
        let log = try StoreOpener.open(store)
        defer { log.close() }
        let secret = readOnly ? nil : token ?? Self.randomToken()
        let options = KirokuRoutesOptions(access: secret.map(HTTPAccess.token) ?? .readOnly,
                                          metrics: KirokuMetrics.bootstrapPrometheus(),
                                          projectionStallAfter: .milliseconds(Int64(stallSeconds * 1000)))
        let host = host
        let server = KirokuServer(log: log, host: host, port: port, options: options) { bound in
            let address = "http://\(host):\(bound)"
            print("Serving \(log.path) on \(address) (/health, /metrics, /api)")
            if let secret {
                print("Console: \(address)/#token=\(secret)")
                print("Writes need: Authorization: Bearer \(secret)")
            } else {
                print("Console: \(address)/ (read-only)")
            }
            fflush(nil)
        }
        try await ServiceGroup(services: [server], gracefulShutdownSignals: [.sigint, .sigterm],
                               logger: Logger(label: "kiroku.serve", factory: { _ in SwiftLogNoOpLogHandler() })).run()
    }

    /// 128 random bits, hex.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in String(format: "%08x", UInt32.random(in: .min ... .max, using: &generator)) }.joined()
    }
}
