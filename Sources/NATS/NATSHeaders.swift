import NIOCore

/// The header block of a NATS message (`NATS/1.0` and `Name: value` lines), with the status
/// line's code and description when the server sent one (404, 408, 409, 503, 100 for idle
/// heartbeats and flow control).
///
/// Names and values are text on one line: a value must hold no CR or LF (encode bytes that
/// could, as Kiroku's relay does with percent-encoding and base64).
public struct NATSHeaders: Sendable, Hashable {
    /// The status code of a status message, such as 503 (no responders); `nil` otherwise.
    public var status: Int?
    /// The status line's text after the code, such as "Idle Heartbeat".
    public var statusDescription: String?
    /// The fields in order; a name may repeat.
    public private(set) var fields: [Field]

    /// One `Name: value` line.
    public struct Field: Sendable, Hashable {
        public var name: String
        public var value: String
    }

    /// An empty header block.
    public init() {
        fields = []
    }

    /// Adds a field.
    public mutating func append(_ name: String, _ value: String) {
        fields.append(Field(name: name, value: value))
    }

    /// The first value of `name` (compared exactly, as the server does), or `nil`.
    public subscript(name: String) -> String? {
        fields.first { $0.name == name }?.value
    }

    /// The block's size in bytes as it goes on the wire.
    public var encodedSize: Int {
        var size = 10 + 2 // "NATS/1.0\r\n" and the closing "\r\n"
        for field in fields { size += field.name.utf8.count + 2 + field.value.utf8.count + 2 }
        return size
    }

    /// Writes the block (`NATS/1.0\r\n`, the fields, an empty line).
    func write(to buffer: inout ByteBuffer) {
        buffer.writeString("NATS/1.0\r\n")
        for field in fields {
            buffer.writeString(field.name)
            buffer.writeString(": ")
            buffer.writeString(field.value)
            buffer.writeString("\r\n")
        }
        buffer.writeString("\r\n")
    }

    /// Parses a header block; `nil` when it does not start with `NATS/1.0`.
    static func parse(_ bytes: UnsafeRawBufferPointer) -> NATSHeaders? {
        var lines: [Range<Int>] = []
        var start = 0
        for index in 0..<bytes.count where bytes[index] == 10 {
            var end = index
            if end > start, bytes[end - 1] == 13 { end -= 1 }
            lines.append(start..<end)
            start = index + 1
        }
        if start < bytes.count { lines.append(start..<bytes.count) }
        func text(_ range: Range<Int>) -> String {
            String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        }
        guard let first = lines.first else { return nil }
        let statusLine = text(first)
        guard statusLine.hasPrefix("NATS/1.0") else { return nil }
        var headers = NATSHeaders()
        let statusPart = statusLine.dropFirst("NATS/1.0".count).drop { $0 == " " }
        if !statusPart.isEmpty {
            let code = statusPart.prefix { $0 != " " }
            headers.status = Int(code)
            let description = statusPart.dropFirst(code.count).drop { $0 == " " }
            if !description.isEmpty { headers.statusDescription = String(description) }
        }
        headers.fields.reserveCapacity(lines.count - 1)
        for line in lines.dropFirst() where !line.isEmpty {
            guard let colon = bytes[line].firstIndex(of: UInt8(ascii: ":")) else { continue }
            var valueStart = colon + 1
            while valueStart < line.upperBound, bytes[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
            headers.fields.append(Field(name: text(line.lowerBound..<colon), value: text(valueStart..<line.upperBound)))
        }
        return headers
    }
}
