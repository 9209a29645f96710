import Foundation
import NIOCore

/// A message delivered to a subscription (`MSG` or `HMSG`).
public struct NATSMessage: Sendable {
    /// The subject it was published to.
    public var subject: String
    /// Where a reply goes, when the publisher asked for one.
    public var replyTo: String?
    /// Its headers (`HMSG`), with the status of a status message.
    public var headers: NATSHeaders?
    /// Its payload bytes.
    public var payload: ByteBuffer
    /// The subscription it was delivered to.
    let sid: UInt64

    /// The status code of a status message (503 no responders, 100 heartbeat or flow control…).
    public var status: Int? { headers?.status }

    /// The payload as `Data`.
    public var data: Data { payload.withUnsafeReadableBytes { Data($0) } }
}
