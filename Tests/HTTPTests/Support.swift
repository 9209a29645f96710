import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KirokuHTTP
import KirokuLog
import Testing

/// A ``KirokuServer`` on a free loopback port for the length of `body`.
func withServer<T: Sendable>(_ log: EventLog, options: KirokuRoutesOptions = .init(),
                             _ body: @Sendable (Client) async throws -> T) async throws -> T {
    let ports = AsyncStream<Int>.makeStream()
    let server = Task { try await KirokuServer(log: log, port: 0, options: options) { port in ports.continuation.yield(port) }.run() }
    defer { server.cancel() }
    var iterator = ports.stream.makeAsyncIterator()
    let port = try #require(await iterator.next())
    let result = try await body(Client(port: port))
    server.cancel()
    _ = try? await server.value
    return result
}

/// An HTTP client of one server, through URLSession.
struct Client: Sendable {
    let port: Int

    struct Answer: CustomStringConvertible {
        var status: Int
        var body: String
        var headers: [String: String]
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8), options: [.fragmentsAllowed]) }
        var object: [String: Any] { json as? [String: Any] ?? [:] }
        var array: [[String: Any]] { json as? [[String: Any]] ?? [] }
        /// The `error.code` of an error answer.
        var code: String? { (object["error"] as? [String: Any])?["code"] as? String }
        var description: String { "\(status) \(body.prefix(2000))" }
    }

    func request(_ method: String, _ path: String, token: String? = nil) async throws -> Answer {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.timeoutInterval = 60
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as? HTTPURLResponse
        var headers: [String: String] = [:]
        for (name, value) in http?.allHeaderFields ?? [:] { headers["\(name)".lowercased()] = "\(value)" }
        return Answer(status: http?.statusCode ?? 0, body: String(decoding: data, as: UTF8.self), headers: headers)
    }

    func get(_ path: String) async throws -> Answer { try await request("GET", path) }
    func post(_ path: String, token: String? = nil) async throws -> Answer { try await request("POST", path, token: token) }
}

/// Percent-encodes a query value (everything but unreserved characters).
func encoded(_ value: String) -> String {
    value.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")) ?? value
}

/// The Prometheus text exposition format, checked line by line: `# HELP name text`, `# TYPE name
/// kind`, and samples `name{label="value",…} number`, every sample's family declared by a TYPE
/// line before it. Returns the samples (name with labels → value); records an issue per bad line.
func parsePrometheus(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> [String: Double] {
    var samples: [String: Double] = [:]
    var types: [String: String] = [:]
    let name = #"[a-zA-Z_:][a-zA-Z0-9_:]*"#
    let sample = try! Regex(#"^(\#(name))(\{(\#(name)="([^"\\]|\\.)*")(,\#(name)="([^"\\]|\\.)*")*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$"#)
    for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
        if line.hasPrefix("# HELP ") { continue }
        if line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            #expect(parts.count == 4 && ["counter", "gauge", "histogram", "summary", "untyped"].contains(String(parts[3])), "bad TYPE line: \(line)", sourceLocation: sourceLocation)
            if parts.count == 4 { types[String(parts[2])] = String(parts[3]) }
            continue
        }
        guard let match = line.wholeMatch(of: sample) else {
            Issue.record("not a Prometheus sample line: \(line)", sourceLocation: sourceLocation)
            continue
        }
        let family = String(line[match.range].prefix { $0 != "{" && $0 != " " })
        let base = ["_bucket", "_sum", "_count", "_total"].reduce(family) { name, suffix in
            types[name] == nil && name.hasSuffix(suffix) && types[String(name.dropLast(suffix.count))] != nil ? String(name.dropLast(suffix.count)) : name
        }
        #expect(types[base] != nil, "sample before its TYPE line: \(line)", sourceLocation: sourceLocation)
        let value = line.split(separator: " ").last.map(String.init) ?? ""
        samples[String(line.dropLast(value.count + 1))] = Double(value) ?? .nan
    }
    return samples
}
