import Foundation
import KirokuLog
import NIOCore

/// What a NATS server sends: the protocol's operations, parsed.
enum ServerOp: Sendable {
    case info(ServerInfo)
    case message(NATSMessage)
    case ping
    case pong
    case ok
    case error(String)
}

/// The server's `INFO`: what the connection needs of it.
public struct ServerInfo: Sendable, Decodable {
    /// The server's name (its `server_name`, or its id).
    public var serverName: String?
    /// Its version, such as "2.9.10".
    public var version: String
    /// The largest payload (headers included) it accepts, in bytes.
    public var maxPayload: Int
    /// Whether it takes headers (`HPUB`).
    public var headers: Bool?
    /// Whether JetStream is enabled.
    public var jetstream: Bool?
    /// The client addresses of the other servers of its cluster (`host:port`).
    public var connectURLs: [String]?

    enum CodingKeys: String, CodingKey {
        case serverName = "server_name", version, maxPayload = "max_payload", headers, jetstream
        case connectURLs = "connect_urls"
    }
}

/// Up to seven token ranges of a control line, kept inline (no allocation per message).
struct Tokens {
    static let capacity = 7
    private var storage: (Range<Int>, Range<Int>, Range<Int>, Range<Int>, Range<Int>, Range<Int>, Range<Int>) =
        (0..<0, 0..<0, 0..<0, 0..<0, 0..<0, 0..<0, 0..<0)
    private(set) var count = 0

    mutating func append(_ range: Range<Int>) {
        switch count {
        case 0: storage.0 = range
        case 1: storage.1 = range
        case 2: storage.2 = range
        case 3: storage.3 = range
        case 4: storage.4 = range
        case 5: storage.5 = range
        default: storage.6 = range
        }
        count += 1
    }

    var first: Range<Int>? { count > 0 ? storage.0 : nil }

    subscript(index: Int) -> Range<Int> {
        switch index {
        case 0: storage.0
        case 1: storage.1
        case 2: storage.2
        case 3: storage.3
        case 4: storage.4
        case 5: storage.5
        default: storage.6
        }
    }
}

/// Splits the byte stream from the server into ``ServerOp``s. Tolerates any fragmentation:
/// nothing is consumed until a whole operation (control line and payload) has arrived.
struct ServerOpDecoder: ByteToMessageDecoder {
    typealias InboundOut = ServerOp

    /// A control line longer than this is not the protocol (INFO with many URLs is the longest).
    static let maxControlLine = 64 * 1024

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let op = try Self.parse(&buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(op))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while let op = try Self.parse(&buffer) {
            context.fireChannelRead(wrapInboundOut(op))
        }
        return .needMoreData
    }

    static func protocolError(_ what: String) -> KirokuError {
        KirokuError(.natsProtocolError, "The NATS server sent \(what); check that the address is a NATS server's client port (4222 by default).")
    }

    /// Parses one operation from the front of `buffer`, or returns `nil` (consuming nothing)
    /// when it has not arrived whole.
    static func parse(_ buffer: inout ByteBuffer) throws -> ServerOp? {
        let view = buffer.readableBytesView
        guard let lf = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count > maxControlLine { throw protocolError("a control line over \(maxControlLine) bytes") }
            return nil
        }
        let lineStart = view.startIndex
        var lineEnd = lf
        if lineEnd > lineStart, view[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
        let afterLine = lf + 1 - lineStart
        // Messages (one per acknowledgement or delivery) are parsed on the bytes; the rare
        // other operations as text.
        var tokens = Tokens()
        var index = lineStart
        while index < lineEnd, tokens.count < Tokens.capacity {
            while index < lineEnd, view[index] == UInt8(ascii: " ") || view[index] == UInt8(ascii: "\t") { index += 1 }
            let start = index
            while index < lineEnd, view[index] != UInt8(ascii: " "), view[index] != UInt8(ascii: "\t") { index += 1 }
            if index > start { tokens.append(start..<index) }
        }
        func isVerb(_ range: Range<Int>, _ verb: StaticString) -> Bool {
            guard range.count == verb.utf8CodeUnitCount else { return false }
            let bytes = UnsafeBufferPointer(start: verb.utf8Start, count: verb.utf8CodeUnitCount)
            return zip(view[range], bytes).allSatisfy { $0 | 0x20 == $1 | 0x20 }
        }
        func number(_ range: Range<Int>) -> Int? {
            guard !range.isEmpty, range.count <= 18 else { return nil }
            var value = 0
            for byte in view[range] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        if let first = tokens.first, isVerb(first, "MSG") || isVerb(first, "HMSG") {
            let hasHeaders = first.count == 4
            let verb = hasHeaders ? "HMSG" : "MSG"
            let sizes = hasHeaders ? 2 : 1
            guard tokens.count == 3 + sizes || tokens.count == 4 + sizes else {
                throw protocolError("a malformed \(verb) line '\(String(decoding: view[lineStart..<lineEnd].prefix(200), as: UTF8.self))'")
            }
            guard let sid = number(tokens[2]) else { throw protocolError("a \(verb) line with a bad subscription id") }
            guard let total = number(tokens[tokens.count - 1]) else { throw protocolError("a \(verb) line with a bad size") }
            let headerSize = hasHeaders ? number(tokens[tokens.count - 2]) ?? -1 : 0
            guard headerSize >= 0, headerSize <= total else { throw protocolError("an HMSG line with a bad header size") }
            // The payload and its CRLF.
            guard buffer.readableBytes >= afterLine + total + 2 else { return nil }
            let subject = String(decoding: view[tokens[1]], as: UTF8.self)
            let reply = tokens.count == 4 + sizes ? String(decoding: view[tokens[3]], as: UTF8.self) : nil
            buffer.moveReaderIndex(forwardBy: afterLine)
            var headers: NATSHeaders?
            if hasHeaders {
                let block = buffer.readSlice(length: headerSize)!
                headers = NATSHeaders.parse(block.readableBytesView)
                guard headers != nil else { throw protocolError("an HMSG whose headers do not start with NATS/1.0") }
            }
            let payload = buffer.readSlice(length: total - headerSize)!
            buffer.moveReaderIndex(forwardBy: 2)
            return .message(NATSMessage(subject: subject, replyTo: reply, headers: headers, payload: payload, sid: UInt64(sid)))
        }
        let line = String(decoding: view[lineStart..<lineEnd], as: UTF8.self)
        let verb = line.prefix { $0 != " " && $0 != "\t" }.uppercased()
        switch verb {
        case "PING":
            buffer.moveReaderIndex(forwardBy: afterLine)
            return .ping
        case "PONG":
            buffer.moveReaderIndex(forwardBy: afterLine)
            return .pong
        case "+OK":
            buffer.moveReaderIndex(forwardBy: afterLine)
            return .ok
        case "-ERR":
            buffer.moveReaderIndex(forwardBy: afterLine)
            var text = line.dropFirst(4).drop { $0 == " " }
            if text.hasPrefix("'") && text.hasSuffix("'") && text.count >= 2 { text = text.dropFirst().dropLast() }
            return .error(String(text))
        case "INFO":
            buffer.moveReaderIndex(forwardBy: afterLine)
            let json = line.dropFirst(4).drop { $0 == " " }
            do {
                return .info(try JSONDecoder().decode(ServerInfo.self, from: Data(json.utf8)))
            } catch {
                throw protocolError("an INFO that is not valid ({\(error)})")
            }
        default:
            throw protocolError("'\(line.prefix(80))', which is not a NATS operation")
        }
    }
}
