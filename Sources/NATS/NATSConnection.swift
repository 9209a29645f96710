import Foundation
import KirokuLog
import Logging
import NIOCore
import NIOPosix

/// One connection to one NATS server: publish (with headers), subscribe, request/reply over a
/// single inbox, PING/PONG. It does not reconnect by itself: when the server goes away every
/// wait on it fails at once with ``KirokuError/Code/natsConnectionLost``, and the caller makes
/// a new connection (``NATSClient`` tries the cluster's servers in turn).
///
/// Publishes are written in call order and never wait; ``write(_:)`` sends many frames built
/// with ``NATSFrames`` in one write, which is how the relay pipelines.
public final class NATSConnection: Sendable {
    /// The server's `INFO` from the handshake.
    public let info: ServerInfo
    /// The address connected to.
    public let server: NATSServerURL
    let channel: any Channel
    private let core: ConnectionCore

    private init(channel: any Channel, core: ConnectionCore, info: ServerInfo, server: NATSServerURL) {
        self.channel = channel
        self.core = core
        self.info = info
        self.server = server
    }

    /// Connects, reads the server's `INFO`, sends `CONNECT` (headers and no-responders on) and
    /// waits for the first `PONG`.
    ///
    /// - Throws: ``KirokuError/Code/natsUnreachable`` when the server cannot be reached or does
    ///   not answer within `timeout`; ``KirokuError/Code/natsProtocolError`` when it refuses.
    public static func connect(to server: NATSServerURL, name: String = "kiroku", timeout: Duration = .seconds(5),
                               logger: Logger = Logger(label: "kiroku.nats")) async throws -> NATSConnection {
        let group = MultiThreadedEventLoopGroup.singleton
        let core = ConnectionCore(eventLoop: group.next(), logger: logger, server: server)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: core.eventLoop)
                .connectTimeout(.nanoseconds(Int64(timeout.nanoseconds)))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ServerOpDecoder()))
                        try channel.pipeline.syncOperations.addHandler(NATSChannelHandler(core: core))
                    }
                }
                .connect(host: server.host, port: server.port).get()
        } catch {
            throw KirokuError(.natsUnreachable, "Cannot connect to the NATS server at \(server) (\(error)); check that nats-server runs there and the address is its client port.")
        }
        do {
            let info = try await core.handshake(channel: channel, name: name, timeout: timeout)
            let connection = NATSConnection(channel: channel, core: core, info: info, server: server)
            try connection.startInbox()
            return connection
        } catch {
            channel.close(promise: nil)
            if let error = error as? KirokuError, error.code == .natsTimeout {
                throw KirokuError(.natsUnreachable, "The NATS server at \(server) did not complete the handshake within \(timeout); check that the address is a NATS server's client port.")
            }
            throw error
        }
    }

    /// Whether the connection still stands.
    public var isOpen: Bool { core.closedError == nil }

    /// Closes the connection; waits on it fail with ``KirokuError/Code/natsConnectionLost``.
    public func close() {
        core.fail(KirokuError(.natsConnectionLost, "The connection to \(server) was closed by this process."))
        channel.close(promise: nil)
    }

    /// Publishes one message (written at once, not waited for).
    public func publish(_ subject: String, payload: some Collection<UInt8> = [], headers: NATSHeaders? = nil, replyTo: String? = nil) throws {
        var frames = NATSFrames()
        frames.publish(subject, payload: payload, headers: headers, replyTo: replyTo)
        try write(frames)
    }

    /// Writes frames built with ``NATSFrames`` in one write.
    public func write(_ frames: NATSFrames) throws {
        if let error = core.closedError { throw error }
        channel.writeAndFlush(frames.buffer, promise: nil)
    }

    /// Subscribes to `subject` (wildcards allowed).
    public func subscribe(_ subject: String) throws -> NATSSubscription {
        let subscription = try core.addSubscription(subject: subject)
        var buffer = channel.allocator.buffer(capacity: subject.utf8.count + 16)
        buffer.writeString("SUB \(subject) \(subscription.sid)\r\n")
        channel.writeAndFlush(buffer, promise: nil)
        return subscription
    }

    /// Ends a subscription; messages already queued can still be taken.
    public func unsubscribe(_ subscription: NATSSubscription) {
        core.removeSubscription(subscription.sid)
        var buffer = channel.allocator.buffer(capacity: 24)
        buffer.writeString("UNSUB \(subscription.sid)\r\n")
        channel.writeAndFlush(buffer, promise: nil)
    }

    /// Sends a request and waits for the first reply, through the connection's one inbox.
    ///
    /// - Throws: ``KirokuError/Code/natsNoResponders`` when nobody subscribes to `subject`,
    ///   ``KirokuError/Code/natsTimeout``, ``KirokuError/Code/natsConnectionLost``.
    public func request(_ subject: String, payload: some Collection<UInt8> = [], headers: NATSHeaders? = nil,
                        timeout: Duration = .seconds(5)) async throws -> NATSMessage {
        let token = core.newToken()
        let reply = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                do {
                    try core.addRequest(token: token, subject: subject, timeout: timeout, continuation: continuation)
                    try publish(subject, payload: payload, headers: headers, replyTo: core.inboxPrefix + token)
                } catch {
                    core.resolveRequest(token, with: .failure(error))
                }
            }
        } onCancel: {
            core.resolveRequest(token, with: .failure(CancellationError()))
        }
        if reply.status == 503 {
            throw KirokuError(.natsNoResponders, "Nobody answers requests on '\(subject)' (NATS status 503): for JetStream, it is not enabled on \(server) or the stream has no leader yet; retry shortly.")
        }
        return reply
    }

    /// A round trip (PING, PONG): every frame written before it has reached the server.
    public func flush(timeout: Duration = .seconds(5)) async throws {
        try await core.ping(channel: channel, timeout: timeout)
    }

    /// A subject no one else uses, for replies and deliveries.
    public func newInbox() -> String {
        "_INBOX." + NUID.next()
    }

    private func startInbox() throws {
        let subscription = try subscribe(core.inboxPrefix + "*")
        core.inboxSid = subscription.sid
    }
}

/// Frames to send in one write: `PUB`/`HPUB`, built into one buffer.
public struct NATSFrames: Sendable {
    var buffer = ByteBufferAllocator().buffer(capacity: 4096)

    /// An empty set of frames.
    public init() {}

    /// How many bytes the frames take.
    public var byteCount: Int { buffer.readableBytes }

    /// The frames' bytes, as they go on the wire.
    public var bytes: [UInt8] { buffer.withUnsafeReadableBytes { Array($0) } }

    /// Adds a `PUB`, or an `HPUB` when there are headers.
    public mutating func publish(_ subject: String, payload: some Collection<UInt8>, headers: NATSHeaders? = nil, replyTo: String? = nil) {
        let reply = replyTo.map { " " + $0 } ?? ""
        if let headers {
            let headerSize = headers.encodedSize
            buffer.writeString("HPUB \(subject)\(reply) \(headerSize) \(headerSize + payload.count)\r\n")
            headers.write(to: &buffer)
        } else {
            buffer.writeString("PUB \(subject)\(reply) \(payload.count)\r\n")
        }
        buffer.writeBytes(payload)
        buffer.writeString("\r\n")
    }

    /// Adds an `HPUB` whose header block is already encoded (`NATS/1.0\r\n`, the fields,
    /// an empty line), for publishers that build headers in bulk.
    public mutating func publish(_ subject: String, replyTo: String?, headerBlock: [UInt8], payload: Data) {
        var line = "HPUB "
        line += subject
        if let replyTo {
            line += " "
            line += replyTo
        }
        line += " \(headerBlock.count) \(headerBlock.count + payload.count)\r\n"
        buffer.reserveCapacity(minimumWritableBytes: line.utf8.count + headerBlock.count + payload.count + 2)
        buffer.writeString(line)
        // Raw buffers: the generic byte-sequence path costs a call per byte in a debug build.
        headerBlock.withUnsafeBytes { _ = buffer.writeBytes($0) }
        payload.withUnsafeBytes { _ = buffer.writeBytes($0) }
        buffer.writeStaticString("\r\n")
    }

}

/// Random, unique tokens for inboxes (22 characters of base 62).
enum NUID {
    private static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    static func next() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(decoding: (0..<22).map { _ in alphabet[Int(generator.next(upperBound: UInt64(62)))] }, as: UTF8.self)
    }
}

/// The connection's shared state: subscriptions, pending requests and PONG waiters.
final class ConnectionCore: Sendable {
    let eventLoop: any EventLoop
    let logger: Logger
    let server: NATSServerURL
    let inboxPrefix = "_INBOX." + NUID.next() + "."

    private struct Pending {
        let continuation: CheckedContinuation<NATSMessage, any Error>
        let timer: Scheduled<Void>
    }
    private struct State {
        var subscriptions: [UInt64: NATSSubscription] = [:]
        var nextSid: UInt64 = 0
        var inboxSid: UInt64 = 0
        var requests: [String: Pending] = [:]
        var nextToken: UInt64 = 0
        var pongs: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
        var nextPing: UInt64 = 0
        var info: CheckedContinuation<ServerInfo, any Error>?
        var receivedInfo: ServerInfo?
        var closed: KirokuError?
        var lastServerError: String?
    }
    private let state = Locked(State())

    init(eventLoop: any EventLoop, logger: Logger, server: NATSServerURL) {
        self.eventLoop = eventLoop
        self.logger = logger
        self.server = server
    }

    var closedError: KirokuError? { state.withLock { $0.closed } }

    var inboxSid: UInt64 {
        get { state.withLock { $0.inboxSid } }
        set { state.withLock { $0.inboxSid = newValue } }
    }

    func newToken() -> String {
        state.withLock { state in
            state.nextToken += 1
            return String(state.nextToken)
        }
    }

    func handshake(channel: any Channel, name: String, timeout: Duration) async throws -> ServerInfo {
        let timer = eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.nanoseconds))) { [self] in
            fail(KirokuError(.natsTimeout, "The NATS server at \(server) sent no INFO within \(timeout)."))
        }
        defer { timer.cancel() }
        let info: ServerInfo = try await withCheckedThrowingContinuation { continuation in
            let ready: Result<ServerInfo, any Error>? = state.withLock { state in
                if let info = state.receivedInfo { return .success(info) }
                if let closed = state.closed { return .failure(closed) }
                state.info = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
        struct Connect: Encodable {
            let verbose = false, pedantic = false, lang = "swift", version = "1.0", `protocol` = 1
            let headers = true, no_responders = true, echo = true
            let name: String
        }
        let json = try JSONEncoder().encode(Connect(name: name))
        var buffer = channel.allocator.buffer(capacity: json.count + 16)
        buffer.writeString("CONNECT ")
        buffer.writeBytes(json)
        buffer.writeString("\r\n")
        channel.writeAndFlush(buffer, promise: nil)
        try await ping(channel: channel, timeout: timeout)
        return info
    }

    func ping(channel: any Channel, timeout: Duration) async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextPing += 1
            return state.nextPing
        }
        let timer = eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.nanoseconds))) { [self] in
            let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let index = state.pongs.firstIndex(where: { $0.id == id }) else { return nil }
                return state.pongs.remove(at: index).continuation
            }
            waiter?.resume(throwing: KirokuError(.natsTimeout, "The NATS server at \(server) did not answer a PING within \(timeout)."))
        }
        defer { timer.cancel() }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let closed = state.withLock { state -> KirokuError? in
                if let closed = state.closed { return closed }
                state.pongs.append((id, continuation))
                return nil
            }
            if let closed {
                continuation.resume(throwing: closed)
                return
            }
            var buffer = channel.allocator.buffer(capacity: 6)
            buffer.writeString("PING\r\n")
            channel.writeAndFlush(buffer, promise: nil)
        }
    }

    func addSubscription(subject: String) throws -> NATSSubscription {
        try state.withLock { state throws -> NATSSubscription in
            if let closed = state.closed { throw closed }
            state.nextSid += 1
            let subscription = NATSSubscription(subject: subject, sid: state.nextSid, eventLoop: eventLoop)
            state.subscriptions[state.nextSid] = subscription
            return subscription
        }
    }

    func removeSubscription(_ sid: UInt64) {
        let removed = state.withLock { $0.subscriptions.removeValue(forKey: sid) }
        removed?.finish(KirokuError(.natsConnectionLost, "The subscription to '\(removed?.subject ?? "")' was ended."))
    }

    func addRequest(token: String, subject: String, timeout: Duration, continuation: CheckedContinuation<NATSMessage, any Error>) throws {
        let timer = eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.nanoseconds))) { [self] in
            resolveRequest(token, with: .failure(KirokuError(.natsTimeout, "A request on '\(subject)' to \(server) got no reply within \(timeout); the server may be overloaded or electing a leader. Retry.")))
        }
        let closed = state.withLock { state -> KirokuError? in
            if let closed = state.closed { return closed }
            state.requests[token] = Pending(continuation: continuation, timer: timer)
            return nil
        }
        if let closed {
            timer.cancel()
            throw closed
        }
    }

    func resolveRequest(_ token: String, with result: Result<NATSMessage, any Error>) {
        let pending = state.withLock { $0.requests.removeValue(forKey: token) }
        pending?.timer.cancel()
        pending?.continuation.resume(with: result)
    }

    /// Handles one operation from the server (on the event loop).
    func received(_ op: ServerOp, context: ChannelHandlerContext) {
        switch op {
        case .info(let info):
            let waiter = state.withLock { state -> CheckedContinuation<ServerInfo, any Error>? in
                state.receivedInfo = info
                defer { state.info = nil }
                return state.info
            }
            waiter?.resume(returning: info)
        case .message(let message):
            let (subscription, inboxSid) = state.withLock { ($0.subscriptions[message.sid], $0.inboxSid) }
            if message.sid == inboxSid, message.sid != 0 {
                if message.subject.hasPrefix(inboxPrefix) {
                    resolveRequest(String(message.subject.dropFirst(inboxPrefix.count)), with: .success(message))
                }
            } else {
                subscription?.deliver(message)
            }
        case .ping:
            var buffer = context.channel.allocator.buffer(capacity: 6)
            buffer.writeString("PONG\r\n")
            context.writeAndFlush(NIOAny(buffer), promise: nil)
        case .pong:
            let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                state.pongs.isEmpty ? nil : state.pongs.removeFirst().continuation
            }
            waiter?.resume()
        case .ok:
            break
        case .error(let text):
            logger.warning("NATS server error", metadata: ["server": "\(server)", "error": "\(text)"])
            state.withLock { $0.lastServerError = text }
            // Permissions errors leave the connection up; the others close it, and the close
            // carries the text.
        }
    }

    /// Fails every wait and marks the connection closed (first error wins).
    func fail(_ error: KirokuError) {
        let (subscriptions, requests, pongs, info) = state.withLock { state in
            if state.closed == nil { state.closed = error }
            defer {
                state.subscriptions = [:]
                state.requests = [:]
                state.pongs = []
                state.info = nil
            }
            return (Array(state.subscriptions.values), Array(state.requests.values), state.pongs, state.info)
        }
        let closed = closedError ?? error
        for subscription in subscriptions { subscription.finish(closed) }
        for request in requests {
            request.timer.cancel()
            request.continuation.resume(throwing: closed)
        }
        for pong in pongs { pong.continuation.resume(throwing: closed) }
        info?.resume(throwing: closed)
    }

    func connectionClosed(_ cause: (any Error)?) {
        let serverError = state.withLock { $0.lastServerError }
        var reason = cause.map { "\($0)" } ?? "the server closed it"
        if let serverError { reason += "; the server said: \(serverError)" }
        let code: KirokuError.Code = serverError.map { !$0.lowercased().contains("stale") } ?? false ? .natsProtocolError : .natsConnectionLost
        fail(KirokuError(code, "The connection to the NATS server at \(server) closed (\(reason)); reconnect, to it or to another server of the cluster."))
    }
}

/// Passes the server's operations to the connection's core.
final class NATSChannelHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ServerOp
    let core: ConnectionCore

    init(core: ConnectionCore) {
        self.core = core
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        core.received(unwrapInboundIn(data), context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        core.connectionClosed(nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        core.connectionClosed(error)
        context.close(promise: nil)
    }
}
