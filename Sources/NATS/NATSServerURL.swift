import KirokuLog

/// A NATS server's address: `nats://host:port`, or `host:port` (port 4222 when left out).
public struct NATSServerURL: Sendable, Hashable, CustomStringConvertible {
    /// The host name or IP address.
    public let host: String
    /// The TCP port.
    public let port: Int

    /// Makes an address from its parts.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `nats://host:port`, `host:port` or `host`.
    ///
    /// - Throws: ``KirokuError`` with ``KirokuError/Code/invalidOption`` for anything else.
    public init(parsing text: String) throws {
        var rest = Substring(text.trimmingCharacters(in: [" "]))
        if rest.hasPrefix("nats://") { rest = rest.dropFirst("nats://".count) }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        var host = rest
        var port = 4222
        if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            guard let parsed = Int(rest[rest.index(after: colon)...]), (1...65_535).contains(parsed) else {
                throw KirokuError(.invalidOption, "'\(text)' is not a NATS server address: give nats://host:port, for example nats://127.0.0.1:4222.")
            }
            port = parsed
        }
        guard !host.isEmpty, !host.contains(" ") else {
            throw KirokuError(.invalidOption, "'\(text)' is not a NATS server address: give nats://host:port, for example nats://127.0.0.1:4222.")
        }
        self.host = String(host)
        self.port = port
    }

    /// Parses a comma-separated list of addresses (as `--nats` takes them).
    public static func list(_ text: String) throws -> [NATSServerURL] {
        let urls = try text.split(separator: ",").map { try NATSServerURL(parsing: String($0)) }
        guard !urls.isEmpty else {
            throw KirokuError(.invalidOption, "No NATS server given: pass --nats nats://host:port[,nats://host:port…].")
        }
        return urls
    }

    public var description: String { "nats://\(host):\(port)" }
}

extension String {
    func trimmingCharacters(in set: Set<Character>) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
