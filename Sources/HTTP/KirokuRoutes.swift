import Foundation
import HTTPTypes
import Hummingbird
import KirokuFeed
import KirokuLog
import KirokuProjections
import KirokuSearch
import Prometheus

/// Kiroku's HTTP routes, for a service to mount on its own Hummingbird router (or for
/// ``KirokuServer`` to serve alone). See `docs/SERVE.md` for every route and its answers.
///
/// - `GET /`: the web console (one page, no external resources).
/// - `GET /health`: 200 while every consumer and projection makes progress; 503 with the
///   reasons (``PipelineHealth``) when one is stalled or failed.
/// - `GET /metrics`: the Prometheus text format.
/// - `GET /api/…`: the pipeline, records, keys, consumers, dead letters, projections, search.
/// - `POST /api/…`: dead-letter retry, skip and purge; projection rebuild, switch and prune. They
///   need ``HTTPAccess/token(_:)``'s token; with ``HTTPAccess/readOnly`` they answer 403.
///
/// Errors are ``KirokuError`` codes in JSON with a status that means something (400 bad input,
/// 401 no token, 403 read-only, 404 not found, 409 conflict, 503 not ready, 504 timeout).
///
/// ```swift
/// let routes = KirokuRoutes<BasicRequestContext>(log: log, options: .init(access: .token(secret), runner: runner))
/// let router = Router()
/// routes.addRoutes(to: router.group("kiroku"))
/// // run routes.monitor in the ServiceGroup too, for the console's history
/// ```
public struct KirokuRoutes<Context: RequestContext>: Sendable {
    /// What the routes may do and what they read.
    public struct Options: Sendable {
        /// Who may call the routes that write. Default: none may (read-only).
        public var access: HTTPAccess
        /// The service's projection runner, when it runs one: the projections and search read
        /// its views, and a search can wait for a position (read-your-writes).
        public var runner: ProjectionRunner?
        /// Projections defined in code (besides the built-in ones and the store's search
        /// views), for status and rebuild.
        public var projections: [any Projection]
        /// The registry the service bootstrapped swift-metrics with (`PrometheusMetricsFactory`),
        /// whose metrics `/metrics` adds: commit latency, processor and search metrics.
        public var metrics: PrometheusCollectorRegistry?
        /// How long a projection version may be behind without moving before it is stalled.
        public var projectionStallAfter: Duration
        /// How long a search with `position` waits for the view to reach it.
        public var searchWait: Duration

        /// Options; by default read-only, no runner.
        public init(access: HTTPAccess = .readOnly, runner: ProjectionRunner? = nil, projections: [any Projection] = [],
                    metrics: PrometheusCollectorRegistry? = nil, projectionStallAfter: Duration = .seconds(60),
                    searchWait: Duration = .seconds(5)) {
            self.access = access
            self.runner = runner
            self.projections = projections
            self.metrics = metrics
            self.projectionStallAfter = projectionStallAfter
            self.searchWait = searchWait
        }
    }

    /// The log served.
    public let log: EventLog
    /// The options.
    public let options: Options
    /// Samples the pipeline for `/api/pipeline`, `/health` and the console's plots; run it as a
    /// `Service` beside the server for a history of the last minutes.
    public let monitor: PipelineMonitor

    /// Routes for `log`.
    public init(log: EventLog, options: Options = Options()) {
        self.log = log
        self.options = options
        self.monitor = PipelineMonitor(log: log, runner: options.runner, projections: options.projections,
                                       stallAfter: options.projectionStallAfter)
    }

    /// Adds the routes to `group` (e.g. `router.group("kiroku")`, or `router.group()` for the root).
    public func addRoutes(to group: RouterGroup<Context>) {
        let group = group.add(middleware: KirokuErrorMiddleware<Context>())
        let monitor = monitor
        let metrics = options.metrics
        group.get { _, _ in ConsolePage.response() }
        group.get("health") { _, _ -> Response in
            let health = try await PipelineHealth.evaluate(monitor)
            return try JSONBody.response(health, status: health.isHealthy ? .ok : .serviceUnavailable)
        }
        group.get("metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: try await MetricsText.scrape(monitor, process: metrics))))
        }
        let api = group.group("api")
        api.get("pipeline") { _, _ -> Response in
            var snapshot = try await monitor.snapshot()
            snapshot.history = snapshot.history.suffix(600).map { $0 }
            return try JSONBody.response(PipelineView(snapshot: snapshot, access: Self.accessName(options.access)))
        }
        api.get("consumers") { _, _ -> Response in try JSONBody.response(try await monitor.snapshot().consumers) }
        addRecordRoutes(to: api)
        addSearchRoutes(to: api)
        let reads = api
        addDeadLetterReads(to: reads)
        addProjectionReads(to: reads)
        let writes = api.group().add(middleware: WriteAccessMiddleware<Context>(access: options.access))
        addDeadLetterWrites(to: writes)
        addProjectionWrites(to: writes)
    }

    /// `GET /api/pipeline`: the snapshot and whether the console may write.
    struct PipelineView: Encodable {
        var snapshot: PipelineMonitor.Snapshot
        var access: String

        func encode(to encoder: any Encoder) throws {
            try snapshot.encode(to: encoder)
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(access, forKey: .access)
        }

        enum Key: String, CodingKey { case access }
    }

    static func accessName(_ access: HTTPAccess) -> String {
        switch access {
        case .readOnly: "read-only"
        case .token: "token"
        }
    }
}

/// A request's query parameters, read with errors that name the parameter. Values are
/// decoded as HTML forms and `URLSearchParams` encode them: `+` is a space, `%2B` a plus, and
/// percent-escapes are UTF-8 bytes (a key's bytes arrive as they were sent).
struct QueryParameters {
    let pairs: [(name: String, value: String)]

    init(request: Request) {
        pairs = (request.uri.query ?? "").split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                let spaced = text.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    func string(_ name: String) -> String? {
        pairs.first { $0.name == name }?.value
    }

    func all(_ name: String) -> [String] {
        pairs.filter { $0.name == name }.map(\.value)
    }

    func number<T: FixedWidthInteger>(_ name: String, _ type: T.Type = T.self, in range: ClosedRange<T>? = nil) throws -> T? {
        guard let text = string(name) else { return nil }
        guard let value = T(text, radix: 10), range.map({ $0.contains(value) }) ?? true else {
            throw KirokuError(.invalidRequest, "Parameter '\(name)' is '\(text)'; give \(range.map { "an integer from \($0.lowerBound) to \($0.upperBound)" } ?? "a whole number").")
        }
        return value
    }

    func flag(_ name: String) throws -> Bool {
        guard let text = string(name) else { return false }
        switch text.lowercased() {
        case "", "1", "true", "yes": return true
        case "0", "false", "no": return false
        default: throw KirokuError(.invalidRequest, "Parameter '\(name)' is '\(text)'; give true or false.")
        }
    }
}

extension Parameters {
    /// A path parameter the route has, decoded from percent-encoding.
    func path(_ name: String) throws -> String {
        guard let raw = get(name) else { throw KirokuError(.invalidRequest, "The path has no '\(name)'.") }
        return raw.removingPercentEncoding ?? raw
    }
}
