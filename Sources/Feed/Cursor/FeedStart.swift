import Foundation

/// Where a feed starts.
public enum FeedStart: Sendable, Hashable {
    /// From the first record of the log.
    case beginning
    /// After the last record committed when iteration begins (`makeAsyncIterator`): only new records.
    case end
    /// From this global position (inclusive).
    case position(UInt64)
    /// After the named consumer's checkpoint; from the beginning when it has none.
    case checkpoint(String)
    /// From the first record committed at or after this instant (after the head when there is
    /// none yet: only new records).
    case time(Date)
}
