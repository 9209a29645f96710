import Foundation
import KirokuLog
@testable import KirokuNATS
@testable import KirokuScaleOut
import NIOCore
import PropertyBased
import Testing

/// Keys become subject tokens and come back byte for byte; the protocol parser takes any
/// fragmentation of the server's bytes.
@Suite struct KeyEncodingTests {
    /// Characters that break NATS subjects or headers, and text that is equal as a Swift
    /// String but different as bytes (precomposed and decomposed é).
    static let alphabet: [String] = ["a", "Z", "0", "_", "-", ".", " ", "*", ">", "%", "\r", "\n", "\t", ":", "\u{0}",
                                     "é", "e\u{301}", "記", "録", "🙂", "\u{FEFF}", "/", "$"]
    static let texts = Gen.int(in: 0..<alphabet.count).array(of: 1...40)

    @Test func everyKeyRoundTripsAndIsAValidToken() async {
        await propertyCheck(count: 400, input: Self.texts) { picks in
            let text = picks.map { Self.alphabet[$0] }.joined()
            let token = KeyEncoding.encode(text)
            #expect(KeyEncoding.decode(token).map { Array($0.utf8) } == Array(text.utf8), "\(text.debugDescription) → \(token)")
            #expect(!token.isEmpty && token.utf8.allSatisfy { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
                || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }, "\(token)")
        }
    }

    @Test func aLongKeyStaysUnderTheControlLineLimit() {
        let key = String(repeating: "記", count: 85) // 255 bytes
        let token = KeyEncoding.encode(key)
        #expect(token.utf8.count == 765)
        #expect(KeyEncoding.decode(token) == key)
    }

    @Test func decodingRefusesWhatEncodingNeverMakes() {
        for bad in ["a.b", "a b", "%4", "%zz", "%41", "%e9", "*", "%FF"] {
            #expect(KeyEncoding.decode(bad) == nil, "\(bad)")
        }
    }

    /// The server's operations split at every possible point parse the same as whole.
    @Test func theParserTakesAnyFragmentation() async throws {
        var wire = ByteBuffer()
        wire.writeString("INFO {\"server_id\":\"x\",\"version\":\"2.9.10\",\"max_payload\":1048576,\"headers\":true,\"connect_urls\":[\"127.0.0.1:4223\"]}\r\n")
        wire.writeString("PING\r\n+OK\r\nMSG a.b 1 _INBOX.x.1 5\r\nhello\r\n")
        wire.writeString("HMSG c 2 22 27\r\nNATS/1.0 503\r\nA: b\r\n\r\nworld\r\n")
        wire.writeString("HMSG d 3 _R 16 16\r\nNATS/1.0 100 Idle Heartbeat\r\n\r\n\r\n".replacingOccurrences(of: "16 16", with: "\("NATS/1.0 100 Idle Heartbeat\r\n\r\n".utf8.count) \("NATS/1.0 100 Idle Heartbeat\r\n\r\n".utf8.count)"))
        wire.writeString("PONG\r\n-ERR 'Maximum Payload Violation'\r\n")
        let whole = try Self.ops(in: [wire])
        #expect(whole.count == 8)
        await propertyCheck(count: 200, input: Gen.int(in: 1...wire.readableBytes).array(of: 0...6)) { cuts in
            let points = Set(cuts).sorted()
            var pieces: [ByteBuffer] = []
            var start = 0
            for point in points + [wire.readableBytes] where point > start {
                pieces.append(wire.getSlice(at: start, length: point - start)!)
                start = point
            }
            let parsed = try? Self.ops(in: pieces)
            #expect(parsed == whole, "cuts \(points)")
        }
    }

    /// Feeds `pieces` one after another, as the channel would, and describes what comes out.
    static func ops(in pieces: [ByteBuffer]) throws -> [String] {
        var buffer = ByteBuffer()
        var out: [String] = []
        for var piece in pieces {
            buffer.writeBuffer(&piece)
            while let op = try ServerOpDecoder.parse(&buffer) {
                switch op {
                case .info(let info): out.append("info \(info.version) \(info.maxPayload) \(info.connectURLs ?? [])")
                case .message(let message):
                    out.append("msg \(message.subject) \(message.sid) \(message.replyTo ?? "-") \(message.status.map(String.init) ?? "-") \(message.headers?.statusDescription ?? "-") \(message.headers?["A"] ?? "-") \(String(buffer: message.payload))")
                case .ping: out.append("ping")
                case .pong: out.append("pong")
                case .ok: out.append("ok")
                case .error(let text): out.append("err \(text)")
                }
            }
        }
        return out
    }
}
