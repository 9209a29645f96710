import Foundation
import HTTPTypes
import Hummingbird
import KirokuFeed
import KirokuLog
import KirokuProjections
import KirokuSearch

extension KirokuError.Code {
    /// A write route was called without the server's token (`Authorization: Bearer TOKEN`).
    public static let unauthorized = Self("unauthorized")
    /// A write route was called on a server started read-only.
    public static let readOnly = Self("read-only")
    /// A request's parameter is missing or malformed; the message names it.
    public static let invalidRequest = Self("invalid-request")
    /// No record, view or route of that name.
    public static let notFound = Self("not-found")
    /// A rebuild of that projection is already running in this server.
    public static let rebuildRunning = Self("rebuild-running")
}

/// How a ``KirokuError`` answers over HTTP: a status that means something and the error as JSON,
/// `{"error": {"code": "…", "message": "…", "key": …, "position": …}}`.
enum HTTPErrorMapping {
    static func status(of code: KirokuError.Code) -> HTTPResponse.Status {
        switch code {
        case .invalidRequest, .invalidOption, .querySyntax, .invalidQuery, .invalidMapping, .invalidProjection,
             .invalidConsumerName, .emptyKey, .keyTooLong, .invalidEventType, .invalidEventId, .emptyAppend,
             .invalidRetention, .invalidSchemaVersion, .invalidTableName, .invalidTableKey:
            return .badRequest
        case .payloadTooLarge: return .contentTooLarge
        case .unauthorized: return .unauthorized
        case .readOnly, .replicaReadOnly, .permissionDenied: return .forbidden
        case .notFound, .storeNotFound, .deadLetterNotFound, .projectionNotFound: return .notFound
        case .versionConflict, .idReused, .keyDeleted, .tableConflict, .consumerBusy, .leaseLost, .alreadyOpen, .rebuildRunning:
            return .conflict
        case .positionRemoved: return .gone
        case .projectionNotReady, .readersFull, .closed: return .serviceUnavailable
        case .projectionTimeout: return .gatewayTimeout
        case .diskFull: return .init(code: 507, reasonPhrase: "Insufficient Storage")
        default: return .internalServerError
        }
    }

    struct Body: Encodable {
        struct Detail: Encodable {
            var code: String
            var message: String
            var key: String?
            var position: UInt64?
            var actualVersion: UInt64?
        }
        var error: Detail
    }

    static func response(_ error: KirokuError) -> Response {
        let body = Body(error: .init(code: error.code.rawValue, message: error.message, key: error.key, position: error.position,
                                     actualVersion: error.actualVersion))
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if error.code == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        return Response(status: status(of: error.code), headers: headers,
                        body: .init(byteBuffer: ByteBuffer(string: (try? JSONBody.encode(body)) ?? "{}")))
    }
}

/// Answers every ``KirokuError`` a route throws as JSON with a status that means something
/// (400 bad input, 401, 403, 404, 409 conflict, 410 removed, 503 not ready, 504 timeout), and
/// any other error but Hummingbird's `HTTPError` as a `500` with code `internal`. Kiroku's
/// routes use it; add it to a service's own router (before its routes) to answer the same way.
public struct KirokuErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The middleware.
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as KirokuError {
            return HTTPErrorMapping.response(error)
        } catch let error as HTTPError {
            throw error
        } catch {
            return HTTPErrorMapping.response(KirokuError(KirokuError.Code("internal"), "The request failed: \(error)."))
        }
    }
}

/// Who may call the routes that write (dead-letter retry, skip and purge; projection rebuild,
/// switch and prune).
public enum HTTPAccess: Sendable, Hashable {
    /// No route writes: they answer 403 `read-only`.
    case readOnly
    /// Routes that write need `Authorization: Bearer <token>`; without it they answer 401
    /// `unauthorized`.
    case token(String)
}

/// Guards the routes that write (added before them: Hummingbird wraps a route in the
/// middleware present when it is added).
struct WriteAccessMiddleware<Context: RequestContext>: RouterMiddleware {
    let access: HTTPAccess

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        switch access {
        case .readOnly:
            throw KirokuError(.readOnly, "This server is read-only (started with --read-only); it refuses \(request.method) \(request.uri.path).")
        case .token(let token):
            let given = request.headers[.authorization] ?? ""
            guard Self.equal(Array(given.utf8), Array("Bearer \(token)".utf8)) else {
                throw KirokuError(.unauthorized, given.isEmpty
                    ? "\(request.method) \(request.uri.path) writes: send the token the server printed at start as 'Authorization: Bearer TOKEN'."
                    : "The token sent does not match the server's; use the one it printed at start (or gave with --token).")
            }
        }
        return try await next(request, context)
    }

    /// Compares in time that does not depend on where the bytes differ.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) { difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0) }
        return difference == 0
    }
}

/// JSON the routes answer with.
enum JSONBody {
    static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: try encode(value))))
    }

    /// An object built for `JSONSerialization` (records, whose payload is any JSON).
    static func response(object: Any, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
