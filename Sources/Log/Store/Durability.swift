/// How much an acknowledged append survives, traded against how fast appends are.
///
/// Like Kafka's `flush.messages` or Redis' `appendfsync`: `.full` is `always`, `.noSync` with a
/// flush interval is `everysec`. Group commit makes `.full` cheap under concurrency: every append
/// in a batch shares one fsync.
public enum Durability: Sendable, Hashable {
    /// Every commit is flushed to disk (fsync) before its appends return. Survives a process
    /// crash, an OS crash and power loss. The default.
    case full
    /// Data pages are flushed at commit, the meta page is not (`MDB_NOMETASYNC`). Survives a
    /// process crash; an OS crash or power loss may roll back the last committed batch, but never
    /// corrupts the store.
    case noMetaSync
    /// Nothing is flushed at commit (`MDB_NOSYNC`); the writer flushes every `flushInterval`, and
    /// on close. Survives a process crash (the OS holds the pages); an OS crash or power loss may
    /// lose up to `flushInterval` of acknowledged appends, and on file systems that reorder writes
    /// may leave the store needing recovery from a copy.
    case noSync(flushInterval: Duration)
}
