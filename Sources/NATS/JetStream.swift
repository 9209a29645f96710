import Foundation
import KirokuLog
import NIOCore

/// The JetStream API calls Kiroku uses, over one connection (`$JS.API.…` requests with JSON).
public struct JetStream: Sendable {
    /// The connection the calls go over.
    public let connection: NATSConnection
    /// How long each call waits for its answer.
    public var timeout: Duration

    /// JetStream over `connection`.
    public init(_ connection: NATSConnection, timeout: Duration = .seconds(5)) {
        self.connection = connection
        self.timeout = timeout
    }

    /// A JetStream API error (`{"error": {"code", "err_code", "description"}}`).
    public struct APIError: Decodable, Sendable, Hashable {
        /// The HTTP-like status, such as 404.
        public var code: Int
        /// JetStream's own error code, such as 10059 (stream not found).
        public var errCode: Int?
        /// JetStream's text.
        public var description: String?

        enum CodingKeys: String, CodingKey { case code, errCode = "err_code", description }

        /// 10059: stream not found.
        public static let streamNotFound = 10059
        /// 10037: no message found.
        public static let noMessageFound = 10037
        /// 10071: wrong last sequence (`Nats-Expected-Last-Sequence` did not hold).
        public static let wrongLastSequence = 10071
    }

    /// A stream's configuration (the fields Kiroku sets).
    public struct StreamConfig: Codable, Sendable, Hashable {
        public var name: String
        public var description: String?
        public var subjects: [String]
        public var retention = "limits"
        public var storage = "file"
        public var numReplicas: Int
        /// The `Nats-Msg-Id` deduplication window, in nanoseconds.
        public var duplicateWindow: Int64?
        public var maxMsgSize: Int?
        public var discard: String?

        enum CodingKeys: String, CodingKey {
            case name, description, subjects, retention, storage, numReplicas = "num_replicas"
            case duplicateWindow = "duplicate_window", maxMsgSize = "max_msg_size", discard
        }

        /// A stream's settings.
        public init(name: String, description: String? = nil, subjects: [String], numReplicas: Int, duplicateWindow: Duration? = nil) {
            self.name = name
            self.description = description
            self.subjects = subjects
            self.numReplicas = numReplicas
            self.duplicateWindow = duplicateWindow.map { Int64($0.nanoseconds) }
        }
    }

    /// A stream's state: its sequence range.
    public struct StreamState: Decodable, Sendable, Hashable {
        public var messages: UInt64
        public var bytes: UInt64
        public var firstSeq: UInt64
        public var lastSeq: UInt64

        enum CodingKeys: String, CodingKey { case messages, bytes, firstSeq = "first_seq", lastSeq = "last_seq" }
    }

    /// The cluster placement of a stream.
    public struct ClusterInfo: Decodable, Sendable, Hashable {
        public var leader: String?
        public var replicas: [Replica]?

        public struct Replica: Decodable, Sendable, Hashable {
            public var name: String
            public var current: Bool
        }
    }

    /// `STREAM.INFO`'s answer.
    public struct StreamInfo: Decodable, Sendable {
        public var config: StreamConfig
        public var state: StreamState
        public var cluster: ClusterInfo?
    }

    /// A message read back from a stream (`STREAM.MSG.GET`).
    public struct StoredMessage: Sendable {
        public var subject: String
        public var sequence: UInt64
        public var headers: NATSHeaders?
        public var data: Data
    }

    /// The settings of an ephemeral push consumer.
    public struct ConsumerConfig: Encodable, Sendable {
        public var deliverSubject: String
        public var deliverPolicy = "by_start_sequence"
        public var optStartSeq: UInt64
        public var ackPolicy = "none"
        public var replayPolicy = "instant"
        public var flowControl = true
        /// Nanoseconds.
        public var idleHeartbeat: Int64
        public var memStorage = true
        public var numReplicas = 1
        /// Nanoseconds.
        public var inactiveThreshold: Int64?

        enum CodingKeys: String, CodingKey {
            case deliverSubject = "deliver_subject", deliverPolicy = "deliver_policy", optStartSeq = "opt_start_seq"
            case ackPolicy = "ack_policy", replayPolicy = "replay_policy", flowControl = "flow_control"
            case idleHeartbeat = "idle_heartbeat", memStorage = "mem_storage", numReplicas = "num_replicas"
            case inactiveThreshold = "inactive_threshold"
        }

        /// An ordered, unacknowledged push consumer from `startSequence`, delivering to `deliverSubject`.
        public init(deliverSubject: String, startSequence: UInt64, idleHeartbeat: Duration, inactiveThreshold: Duration? = nil) {
            self.deliverSubject = deliverSubject
            self.optStartSeq = startSequence
            self.idleHeartbeat = Int64(idleHeartbeat.nanoseconds)
            self.inactiveThreshold = inactiveThreshold.map { Int64($0.nanoseconds) }
        }
    }

    /// A created consumer's name.
    public struct ConsumerInfo: Decodable, Sendable {
        public var name: String
    }

    /// A publish acknowledgement, or the error the stream answered with.
    public struct PubAck: Decodable, Sendable, Hashable {
        public var stream: String?
        public var seq: UInt64?
        public var duplicate: Bool?
        public var error: APIError?
    }

    // MARK: Calls

    /// The stream's configuration and state, or `nil` when there is no such stream.
    public func streamInfo(_ name: String) async throws -> StreamInfo? {
        struct Answer: Decodable {
            var config: StreamConfig?
            var state: StreamState?
            var cluster: ClusterInfo?
            var error: APIError?
        }
        let answer: Answer = try await call("STREAM.INFO.\(name)", body: Data())
        if let error = answer.error {
            if error.errCode == APIError.streamNotFound { return nil }
            throw Self.failure(error, doing: "reading stream \(name)")
        }
        guard let config = answer.config, let state = answer.state else {
            throw KirokuError(.jetStreamError, "JetStream answered STREAM.INFO for \(name) without a config or state.")
        }
        return StreamInfo(config: config, state: state, cluster: answer.cluster)
    }

    /// Creates the stream.
    public func createStream(_ config: StreamConfig) async throws -> StreamInfo {
        struct Answer: Decodable {
            var config: StreamConfig?
            var state: StreamState?
            var cluster: ClusterInfo?
            var error: APIError?
        }
        let answer: Answer = try await call("STREAM.CREATE.\(config.name)", body: try JSONEncoder().encode(config))
        if let error = answer.error { throw Self.failure(error, doing: "creating stream \(config.name)") }
        guard let created = answer.config, let state = answer.state else {
            throw KirokuError(.jetStreamError, "JetStream answered STREAM.CREATE for \(config.name) without a config or state.")
        }
        return StreamInfo(config: created, state: state, cluster: answer.cluster)
    }

    /// Deletes the stream (tests and tools).
    public func deleteStream(_ name: String) async throws {
        struct Answer: Decodable { var error: APIError? }
        let answer: Answer = try await call("STREAM.DELETE.\(name)", body: Data())
        if let error = answer.error, error.errCode != APIError.streamNotFound { throw Self.failure(error, doing: "deleting stream \(name)") }
    }

    /// The message at `sequence`, or `nil` when the stream holds none there.
    public func message(_ stream: String, sequence: UInt64) async throws -> StoredMessage? {
        struct Answer: Decodable {
            struct Message: Decodable {
                var subject: String
                var seq: UInt64
                var hdrs: String?
                var data: String?
            }
            var message: Message?
            var error: APIError?
        }
        let answer: Answer = try await call("STREAM.MSG.GET.\(stream)", body: Data("{\"seq\":\(sequence)}".utf8))
        if let error = answer.error {
            if error.errCode == APIError.noMessageFound { return nil }
            throw Self.failure(error, doing: "reading message \(sequence) of stream \(stream)")
        }
        guard let message = answer.message else { return nil }
        var headers: NATSHeaders?
        if let encoded = message.hdrs, let bytes = Data(base64Encoded: encoded) {
            headers = bytes.withUnsafeBytes { NATSHeaders.parse($0) }
        }
        return StoredMessage(subject: message.subject, sequence: message.seq, headers: headers,
                             data: message.data.flatMap { Data(base64Encoded: $0) } ?? Data())
    }

    /// Creates an ephemeral consumer on `stream`.
    public func createConsumer(_ stream: String, _ config: ConsumerConfig) async throws -> ConsumerInfo {
        struct Request: Encodable {
            let stream_name: String
            let config: ConsumerConfig
        }
        struct Answer: Decodable {
            var name: String?
            var error: APIError?
        }
        let answer: Answer = try await call("CONSUMER.CREATE.\(stream)", body: try JSONEncoder().encode(Request(stream_name: stream, config: config)))
        if let error = answer.error { throw Self.failure(error, doing: "creating a consumer on stream \(stream)") }
        guard let name = answer.name else { throw KirokuError(.jetStreamError, "JetStream created a consumer on \(stream) without naming it.") }
        return ConsumerInfo(name: name)
    }

    /// Deletes a consumer; a consumer already gone is not an error.
    public func deleteConsumer(_ stream: String, _ name: String) async throws {
        struct Answer: Decodable { var error: APIError? }
        let answer: Answer = try await call("CONSUMER.DELETE.\(stream).\(name)", body: Data())
        if let error = answer.error, error.code != 404 { throw Self.failure(error, doing: "deleting consumer \(name) of \(stream)") }
    }

    /// Decodes a publish acknowledgement.
    public static func pubAck(_ message: NATSMessage) throws -> PubAck {
        if message.status == 503 {
            return PubAck(error: APIError(code: 503, errCode: nil, description: "no responders: the stream has no leader"))
        }
        // The common answer, {"stream":"…","seq":N} (maybe with "duplicate":true), without
        // JSONDecoder: the relay reads one per record.
        let quick: PubAck? = message.payload.withUnsafeReadableBytes { bytes in
            guard !bytes.isEmpty, let seq = Self.number(after: Self.seqField, in: bytes), Self.find(Self.errorField, in: bytes) == nil else { return nil }
            return PubAck(stream: nil, seq: seq, duplicate: Self.find(Self.duplicateField, in: bytes) != nil)
        }
        if let quick { return quick }
        do {
            return try JSONDecoder().decode(PubAck.self, from: message.data)
        } catch {
            throw KirokuError(.jetStreamError, "JetStream answered a publish with something that is not an acknowledgement: \(String(decoding: message.data.prefix(200), as: UTF8.self)).")
        }
    }

    private static let seqField = Array("\"seq\":".utf8)
    private static let errorField = Array("\"error\"".utf8)
    private static let duplicateField = Array("\"duplicate\":true".utf8)

    private static func find(_ needle: [UInt8], in bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        var index = bytes.startIndex
        let last = bytes.endIndex - needle.count
        while index <= last {
            if bytes[index] == needle[0] {
                var matched = true
                for offset in 1..<needle.count where bytes[index + offset] != needle[offset] {
                    matched = false
                    break
                }
                if matched { return index }
            }
            index += 1
        }
        return nil
    }

    private static func number(after field: [UInt8], in bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard var index = find(field, in: bytes).map({ $0 + field.count }) else { return nil }
        while index < bytes.endIndex, bytes[index] == UInt8(ascii: " ") { index += 1 }
        var value: UInt64 = 0
        var digits = 0
        while index < bytes.endIndex, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
            value = value &* 10 &+ UInt64(bytes[index] - UInt8(ascii: "0"))
            digits += 1
            index += 1
        }
        return digits > 0 ? value : nil
    }

    /// The error for an API error.
    public static func failure(_ error: APIError, doing action: String) -> KirokuError {
        KirokuError(.jetStreamError, "JetStream refused \(action): \(error.description ?? "no description") (code \(error.code), error code \(error.errCode.map(String.init) ?? "none")).")
    }

    private func call<Answer: Decodable>(_ api: String, body: Data) async throws -> Answer {
        let reply = try await connection.request("$JS.API." + api, payload: body, timeout: timeout)
        do {
            return try JSONDecoder().decode(Answer.self, from: reply.data)
        } catch {
            throw KirokuError(.jetStreamError, "JetStream's answer to \(api) is not what Kiroku expects (\(error)): \(String(decoding: reply.data.prefix(300), as: UTF8.self)).")
        }
    }
}
