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
        // The control line is read through a raw pointer: ByteBufferView's per-byte
        // subscript costs a bounds-checked call per byte, which a debug build does not inline.
        // Also the verb and the numbers are read there: a message line (one per
        // acknowledgement or delivery) makes no string but its subject and reply.
        let scanned: (tokens: Tokens, lineEnd: Int, afterLine: Int, isMessage: Bool, sid: Int?, headerSize: Int?, total: Int?)? = try buffer.withUnsafeReadableBytes { view in
            guard let lf = view.firstIndex(of: UInt8(ascii: "\n")) else {
                if view.count > maxControlLine { throw protocolError("a control line over \(maxControlLine) bytes") }
                return nil
            }
            var lineEnd = lf
            if lineEnd > 0, view[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
            var tokens = Tokens()
            var index = 0
            while index < lineEnd, tokens.count < Tokens.capacity {
                while index < lineEnd, view[index] == UInt8(ascii: " ") || view[index] == UInt8(ascii: "\t") { index += 1 }
                let start = index
                while index < lineEnd, view[index] != UInt8(ascii: " "), view[index] != UInt8(ascii: "\t") { index += 1 }
                if index > start { tokens.append(start..<index) }
            }
            func isVerb(_ range: Range<Int>, _ verb: StaticString) -> Bool {
                guard range.count == verb.utf8CodeUnitCount else { return false }
                let letters = UnsafeBufferPointer(start: verb.utf8Start, count: verb.utf8CodeUnitCount)
                return zip(view[range], letters).allSatisfy { $0 | 0x20 == $1 | 0x20 }
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
            let isMessage = tokens.first.map { isVerb($0, "MSG") || isVerb($0, "HMSG") } ?? false
            // `MSG subject sid [reply] total`, `HMSG subject sid [reply] headers total`.
            guard isMessage, tokens.count >= 4 else { return (tokens, lineEnd, lf + 1, isMessage, nil, nil, nil) }
            return (tokens, lineEnd, lf + 1, true, number(tokens[2]), number(tokens[tokens.count - 2]), number(tokens[tokens.count - 1]))
        }
        guard let scanned else { return nil }
        let tokens = scanned.tokens
        let afterLine = scanned.afterLine
        let lineEnd = scanned.lineEnd
        func text(_ range: Range<Int>) -> String {
            buffer.getString(at: buffer.readerIndex + range.lowerBound, length: range.count) ?? ""
        }
        if scanned.isMessage, let first = tokens.first {
            let hasHeaders = first.count == 4
            let verb = hasHeaders ? "HMSG" : "MSG"
            let sizes = hasHeaders ? 2 : 1
            guard tokens.count == 3 + sizes || tokens.count == 4 + sizes else {
                throw protocolError("a malformed \(verb) line '\(text(0..<min(lineEnd, 200)))'")
            }
            guard let sid = scanned.sid else { throw protocolError("a \(verb) line with a bad subscription id") }
            guard let total = scanned.total else { throw protocolError("a \(verb) line with a bad size") }
            let headerSize = hasHeaders ? scanned.headerSize ?? -1 : 0
            guard headerSize >= 0, headerSize <= total else { throw protocolError("an HMSG line with a bad header size") }
            // The payload and its CRLF.
            guard buffer.readableBytes >= afterLine + total + 2 else { return nil }
            let subject = text(tokens[1])
            let reply = tokens.count == 4 + sizes ? text(tokens[3]) : nil
            buffer.moveReaderIndex(forwardBy: afterLine)
            var headers: NATSHeaders?
            if hasHeaders {
                let block = buffer.readSlice(length: headerSize)!
                headers = block.withUnsafeReadableBytes { NATSHeaders.parse($0) }
                guard headers != nil else { throw protocolError("an HMSG whose headers do not start with NATS/1.0") }
            }
            let payload = buffer.readSlice(length: total - headerSize)!
            buffer.moveReaderIndex(forwardBy: 2)
            return .message(NATSMessage(subject: subject, replyTo: reply, headers: headers, payload: payload, sid: UInt64(sid)))
        }
        let line = text(0..<lineEnd)
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
