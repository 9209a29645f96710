import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension EventLog {
    /// How a store is opened.
    public struct Options: Sendable {
        /// Durability of each commit; see ``Durability``. Default `.full`.
        public var durability: Durability = .full
        /// The memory map's size at open, in bytes. The map grows by itself when full, so this
        /// only matters to avoid early growth steps. Default 64 MiB; at least 1 MiB.
        public var initialMapSize: Int = 64 << 20
        /// The largest payload (and, separately, metadata) an event may carry, in bytes.
        /// Default 4 MiB.
        public var maxPayloadBytes: Int = 4 << 20
        /// LMDB reader slots shared by every process that opens the store. Default 256.
        public var maxReaders: Int = 256
        /// Create the directory when it does not exist. Default `true`.
        public var createIfMissing = true
        /// Permissions of the files LMDB creates (data and lock file). Default `0o600`.
        public var fileMode: mode_t = 0o600
        /// The most append requests the writer commits in one transaction. Default 4096.
        public var maxBatchRequests = 4096
        /// The most the writer waits for more appends to share a commit, and only after a batch
        /// of many appends, when few are queued yet (the appenders that commit released are still
        /// coming back). A lone appender never waits. `.zero` turns it off. Default 200 µs.
        public var groupCommitWindow: Duration = .microseconds(200)
        /// Where the store logs (open, map growth, flush failures). Never bootstrapped by Kiroku;
        /// the default discards everything.
        public var logger = Logger(label: "kiroku.log", factory: { _ in SwiftLogNoOpLogHandler() })
        /// What turns events written in older schemas into their current form on every read
        /// (``Upcasters``), and the versions new appends are stamped with. Default: none.
        public var upcasters = Upcasters()

        /// Default options: durable, 64 MiB initial map, 4 MiB payloads.
        public init() {}
    }
}
