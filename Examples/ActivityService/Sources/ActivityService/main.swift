import Foundation
import Hummingbird
import Kiroku
import KirokuHTTP
import Logging
import ServiceLifecycle

// Activity history for sales teams, in one process: the log, a search view kept by a
// projection runner, and Kiroku's console, health and metrics under /kiroku.
//
//   POST /activities            {"id": "a-1", "deal": "deal-7", "text": "…", "owner": "alice", "status": "open", "amount": 120000, "date": "2024-05-01T09:00:00Z"}
//                               appends ActivityLogged to key "deal-7", idempotent on "id"; answers {"position": N, …}
//   GET  /activities/search?q=…&position=N
//                               searches, first waiting until the view has applied N (read-your-writes)
//   GET  /kiroku/               the console; /kiroku/health, /kiroku/metrics, /kiroku/api/…
//
// Environment: ACTIVITY_STORE (default ./activity-store), PORT (default 8080), KIROKU_TOKEN
// (the console's write token; default: a random one, printed).

let environment = ProcessInfo.processInfo.environment
let storePath = environment["ACTIVITY_STORE"] ?? "./activity-store"
let port = Int(environment["PORT"] ?? "") ?? 8080
let token = environment["KIROKU_TOKEN"] ?? UUID().uuidString

let mapping = try SearchMapping(json: Data("""
{
  "types": ["ActivityLogged"],
  "id": "$.id",
  "fields": {
    "text": {"path": "$.text", "type": "text"},
    "deal": {"path": "$.deal", "type": "keyword"},
    "owner": {"path": "$.owner", "type": "keyword"},
    "status": {"path": "$.status", "type": "keyword"},
    "amount": {"path": "$.amount", "type": "number"},
    "date": {"path": "$.date", "type": "date"}
  }
}
""".utf8))

struct Activity: Codable {
    var id: String
    var deal: String
    var text: String
    var owner: String
    var status: String?
    var amount: Double?
    var date: String?
}

struct Appended: ResponseEncodable {
    var id: String
    var key: String
    var position: UInt64
    var version: UInt64
    /// The same id was appended before: nothing new was written.
    var repeated: Bool
}

// swift-metrics first: the log's writer makes its metrics when the log opens, and a metric
// made before the bootstrap stays a no-op.
let metrics = KirokuMetrics.bootstrapPrometheus()
let log = try EventLog(path: storePath)
let view = SearchView(name: "activities", mapping: mapping)
let runner = ProjectionRunner(log: log, projections: [view])
let kiroku = KirokuRoutes<BasicRequestContext>(log: log, options: .init(access: .token(token), runner: runner, metrics: metrics))

let router = Router()
// KirokuError → JSON with a meaningful status, as Kiroku's own routes answer.
router.add(middleware: KirokuErrorMiddleware())
router.post("activities") { request, context -> Appended in
    let activity = try await request.decode(as: Activity.self, context: context)
    guard !activity.id.isEmpty, !activity.deal.isEmpty else { throw HTTPError(.badRequest, message: "id and deal must not be empty") }
    // The activity's id is the event's id: a client that retries after a timeout appends it once.
    // A repeat must carry the same bytes, so the payload is encoded with sorted keys (without
    // it, JSONEncoder's key order can differ between two encodings, and the repeat is id-reused).
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    let result = try await log.append(to: activity.deal, EventData(type: "ActivityLogged", payload: try encoder.encode(activity), id: activity.id))
    return Appended(id: activity.id, key: activity.deal, position: result.position, version: result.version, repeated: result.repeats > 0)
}
router.get("activities/search") { request, _ -> Response in
    let q = request.uri.queryParameters.get("q").map { String($0) } ?? ""
    let position = request.uri.queryParameters.get("position").flatMap { UInt64(String($0)) }
    // Read-your-writes: wait until the view has applied the caller's append.
    if let position { try await runner.waitUntil("activities", hasApplied: position) }
    let results = try runner.reader("activities").search(SearchRequest(q, limit: 20, facets: ["owner", "status"]))
    let body = try JSONEncoder().encode(results)
    return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
}
kiroku.addRoutes(to: router.group("kiroku"))

let logger = Logger(label: "activity-service")
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)),
                      services: [runner, kiroku.monitor],
                      onServerRunning: { channel in
                          print("ActivityService on http://127.0.0.1:\(channel.localAddress?.port ?? port) (store \(storePath))")
                          print("Console: http://127.0.0.1:\(channel.localAddress?.port ?? port)/kiroku/#token=\(token)")
                          fflush(nil)
                      }, logger: logger)
try await ServiceGroup(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
log.close()
