import Foundation
import KirokuLog
import KirokuNATS

/// The relay benchmark's baseline: a publisher on a plain blocking socket that writes
/// pre-built `HPUB` frames with a window of unacknowledged ones and counts the PubAcks on a
/// second thread, the least a client can do per message. Measures what the stream takes.
final class RawPublisher: @unchecked Sendable {
    private let fd: Int32
    private let condition = NSCondition()
    private var acknowledged = 0
    private var errors = 0
    private var closed = false

    /// Connects and completes the handshake (INFO, CONNECT, PING, PONG).
    init(server: NATSServerURL) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(server.port).bigEndian
        address.sin_addr.s_addr = inet_addr(server.host == "localhost" ? "127.0.0.1" : server.host)
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else {
            close(fd)
            throw KirokuError(.natsUnreachable, "The raw publisher cannot connect to \(server).")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = try readLine() // INFO
        try send(Array("CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nSUB _RAWACK.* 1\r\nPING\r\n".utf8))
        while try readLine() != "PONG" {}
    }

    deinit { close(fd) }

    private var pending: [UInt8] = []

    private func readLine() throws -> String {
        while true {
            if let lf = pending.firstIndex(of: 10) {
                let line = String(decoding: pending[..<lf], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                pending.removeSubrange(...lf)
                return line
            }
            try fill()
        }
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { throw KirokuError(.natsConnectionLost, "The raw publisher's connection closed.") }
        pending.append(contentsOf: chunk[..<count])
    }

    private func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Foundation.send(fd, $0.baseAddress! + offset, bytes.count - offset, 0) }
            guard written > 0 else { throw KirokuError(.natsConnectionLost, "The raw publisher's connection closed.") }
            offset += written
        }
    }

    /// Publishes `frames` (each one `HPUB` with reply subject `_RAWACK.<n>`) keeping at most
    /// `window` unacknowledged; returns the seconds from the first write to the last ack.
    func publish(_ frames: [[UInt8]], window: Int, batch: Int = 64) throws -> (seconds: Double, errors: Int) {
        let total = frames.count
        let reader = Thread { [self] in
            // Each ack is "MSG _RAWACK.n 1 <size>\r\n<json>\r\n".
            while true {
                guard let line = try? readLine() else { break }
                if line.hasPrefix("MSG") {
                    let size = Int(line.split(separator: " ").last ?? "0") ?? 0
                    while pending.count < size + 2 { if (try? fill()) == nil { break } }
                    let body = pending.prefix(size)
                    let failed = body.starts(with: Array("{\"error\"".utf8)) || String(decoding: body, as: UTF8.self).contains("\"error\"")
                    pending.removeFirst(min(pending.count, size + 2))
                    condition.lock()
                    acknowledged += 1
                    if failed { errors += 1 }
                    condition.broadcast()
                    let done = acknowledged >= total
                    condition.unlock()
                    if done { break }
                } else if line == "PING" {
                    try? send(Array("PONG\r\n".utf8))
                }
            }
            condition.lock()
            closed = true
            condition.broadcast()
            condition.unlock()
        }
        let start = Date()
        reader.start()
        var sent = 0
        while sent < total {
            condition.lock()
            while sent - acknowledged >= window && !closed { condition.wait() }
            let stop = closed
            let room = window - (sent - acknowledged)
            condition.unlock()
            if stop { break }
            let end = min(total, sent + min(room, batch))
            try send(Array(frames[sent..<end].joined()))
            sent = end
        }
        condition.lock()
        while acknowledged < total && !closed { condition.wait() }
        let result = (Date().timeIntervalSince(start), errors + (total - acknowledged))
        condition.unlock()
        return result
    }
}
