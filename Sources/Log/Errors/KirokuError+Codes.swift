extension KirokuError.Code {
    // Bad input: fix the call.
    /// The partition key is empty.
    public static let emptyKey = Self("empty-key")
    /// The partition key is longer than ``EventLog/maxKeyBytes``.
    public static let keyTooLong = Self("key-too-long")
    /// The event type is empty or longer than ``EventLog/maxTypeBytes``.
    public static let invalidEventType = Self("invalid-event-type")
    /// An event id is empty or too long.
    public static let invalidEventId = Self("invalid-event-id")
    /// The payload or metadata is larger than ``EventLog/Options/maxPayloadBytes``.
    public static let payloadTooLarge = Self("payload-too-large")
    /// An append with no events, or an atomic append with no groups.
    public static let emptyAppend = Self("empty-append")
    /// An option is out of range (map size, payload limit, reader count).
    public static let invalidOption = Self("invalid-option")

    // Conflicts: reload and decide again.
    /// The key's current version is not what the append expected.
    public static let versionConflict = Self("version-conflict")
    /// An event id is already stored (or appears earlier in the same append) with other content:
    /// another key, type, payload or metadata. An identical repeat is never an error.
    public static let idReused = Self("id-reused")

    // Lifecycle: deletion, retention, erasure.
    /// An append to a key that a hard delete closed for good.
    public static let keyDeleted = Self("key-deleted")
    /// A read from a position whose records retention removed (like Kafka's offset out of
    /// range): move the reader to the log's first position, or rebuild.
    public static let positionRemoved = Self("position-removed")
    /// A retention policy that cannot be applied as given.
    public static let invalidRetention = Self("invalid-retention")

    // Read replicas.
    /// An append to a read replica: its records come only from its source, through the mirror.
    public static let replicaReadOnly = Self("replica-read-only")
    /// Records given to ``EventLog/replicate(_:from:)`` do not continue the replica: a gap,
    /// a version or id that does not fit, another source, or a store with records of its own.
    public static let replicaDiverged = Self("replica-diverged")

    // The store and its directory.
    /// The directory does not exist and the options say not to create it.
    public static let storeNotFound = Self("store-not-found")
    /// The directory holds something that is not a Kiroku store.
    public static let notAStore = Self("not-a-store")
    /// The store was written by a newer Kiroku whose format this build cannot read.
    public static let unsupportedFormat = Self("unsupported-format")
    /// The store is already open in this process; share the open ``EventLog``.
    public static let alreadyOpen = Self("already-open")
    /// The directory or its files cannot be written (permissions, read-only file system).
    public static let permissionDenied = Self("permission-denied")
    /// A backup was asked into a directory that holds a store, or (for `kiroku backup`) any
    /// file: give a new or empty directory.
    public static let backupTargetInUse = Self("backup-target-in-use")
    /// The file system is full; nothing of the failed append was written.
    public static let diskFull = Self("disk-full")
    /// Every LMDB reader slot is in use.
    public static let readersFull = Self("readers-full")
    /// The log was closed.
    public static let closed = Self("closed")
    /// A flush to disk (or a commit's fsync) failed, so acknowledged appends may not be
    /// durable; the log accepts no more appends until it is opened again.
    public static let flushFailed = Self("flush-failed")

    // Integrity.
    /// A stored record or index entry failed its check; run `verify`.
    public static let corruption = Self("corruption")
    /// Any other failure of the storage engine, with LMDB's own message.
    public static let storageFailure = Self("storage-failure")
}
