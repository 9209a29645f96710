import KirokuLog

/// A batch of records a feed delivers, and how far the log was read to find them.
public struct FeedBatch: Sendable {
    /// The selected records, in log order.
    public let records: [Record]
    /// Every position up to here has been read: the records above, and those the selection
    /// left out. A consumer that has handled `records` can checkpoint this position.
    public let throughPosition: UInt64
}
