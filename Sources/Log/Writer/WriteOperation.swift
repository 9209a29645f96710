import CLMDB

/// What the writer commits: appends, and writes to the tables of the layers above the log.
enum WriteOperation: Sendable {
    case append([AppendGroup])
    case tables([TableWrite])
    case openTable(String)
}

/// What a committed ``WriteOperation`` produced.
enum WriteOutcome: Sendable {
    case appended([AppendResult])
    case written
    case opened(MDB_dbi)
}
