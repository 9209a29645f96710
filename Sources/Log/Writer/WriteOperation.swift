import CLMDB
import Foundation

/// What the writer commits: appends, and writes to the tables of the layers above the log.
enum WriteOperation: Sendable {
    /// One atomic request: every group commits or none does.
    case append([AppendGroup])
    /// Groups judged one by one, in order, in one transaction; with `stopAtFirstError`, the
    /// groups after the first that fails are not applied.
    case appendEach([AppendGroup], stopAtFirstError: Bool)
    /// Records copied from another store, at their own positions (read replicas).
    case replicate([Record], source: UUID)
    case tables([TableWrite])
    case openTable(String)
}

/// What a committed ``WriteOperation`` produced.
enum WriteOutcome: Sendable {
    case appended([AppendResult])
    case appendedEach([Result<AppendResult, KirokuError>])
    case written
    case replicated
    case opened(MDB_dbi)
}
