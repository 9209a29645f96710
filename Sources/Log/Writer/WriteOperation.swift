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
    /// A deletion marker for a key (``AppendPlanner/mark(_:deletion:erase:in:)``).
    case mark(key: String, deletion: Record.Deletion, erase: Bool)
    /// Hide (and then remove) a key's versions below one.
    case truncate(key: String, before: UInt64)
    /// Store the retention policies.
    case setRetention([RetentionPolicy])
    /// One bounded step of removal and erasure: the queued work, then, with a run id, the
    /// retention policies.
    case lifecycleStep(run: UInt64?, budget: Int)
    /// Zero the free pages no snapshot can reach (after its own commits, see ``Environment/scrubFreePages(touch:)``).
    case scrub
}

/// What a committed ``WriteOperation`` produced.
enum WriteOutcome: Sendable {
    case appended([AppendResult])
    case appendedEach([Result<AppendResult, KirokuError>])
    case written
    case replicated
    case opened(MDB_dbi)
    /// The marker, and how many stored records of the key it covers (below it).
    case marked(StoredEvent?, covered: Int)
    case stepped(RetentionReport)
    case scrubbed(ScrubReport)
}
