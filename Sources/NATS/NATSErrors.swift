import KirokuLog

extension KirokuError.Code {
    /// No NATS server of the list answered (refused, unreachable, or no INFO/PONG in time).
    public static let natsUnreachable = Self("nats-unreachable")
    /// The connection to the NATS server closed (the server stopped, the network failed, or
    /// the server closed it after a protocol error); what waited on it fails with this.
    public static let natsConnectionLost = Self("nats-connection-lost")
    /// A NATS request or a wait for a message got no answer in time.
    public static let natsTimeout = Self("nats-timeout")
    /// No one subscribes to the subject a request went to (NATS status 503): for JetStream,
    /// JetStream is not enabled or the stream has no leader yet.
    public static let natsNoResponders = Self("nats-no-responders")
    /// The server sent `-ERR`, or bytes that are not the NATS protocol.
    public static let natsProtocolError = Self("nats-protocol-error")
    /// A JetStream API call failed; the message carries JetStream's code and description.
    public static let jetStreamError = Self("jetstream-error")
}
