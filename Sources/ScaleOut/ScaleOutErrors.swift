import KirokuLog

extension KirokuError.Code {
    /// The stream the relay writes to holds records this log does not: another store's, a
    /// longer or different history (the store was restored from an older copy), or a record
    /// whose checksum differs. The relay stops rather than mix two histories.
    public static let relayDiverged = Self("relay-diverged")
    /// A record is too large for a NATS message: its headers over 65,535 bytes, or headers and
    /// payload over the server's `max_payload`. The relay stops at it (nothing after it can go
    /// first).
    public static let relayRecordTooLarge = Self("relay-record-too-large")
    /// The stream no longer holds the positions the replica needs next (removed by the
    /// stream's limits or a purge); the replica cannot continue from it.
    public static let mirrorGap = Self("mirror-gap")
}
