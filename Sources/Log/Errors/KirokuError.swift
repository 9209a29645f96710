/// An error Kiroku reports to its user: what went wrong, what to do about it, and where.
///
/// Every error a user can see has a stable ``Code`` (listed in `docs/ERRORS.md`), a message that
/// says what to do, and the context that locates it (store path, key, position, versions).
///
/// ```swift
/// do {
///     try await log.append(to: "order-1", [event], expected: .exact(3))
/// } catch let error as KirokuError where error.code == .versionConflict {
///     print(error.actualVersion ?? 0) // reload the key and decide again
/// }
/// ```
public struct KirokuError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of error this is. Stable across releases; compare with `==`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The identifier used in `docs/ERRORS.md` and in the CLI's JSON output.
        public let rawValue: String

        /// Makes a code; other Kiroku layers define theirs in extensions.
        public init(_ rawValue: String) { self.rawValue = rawValue }

        public var description: String { rawValue }
    }

    /// What kind of error this is.
    public var code: Code
    /// A sentence that says what happened and what to do.
    public var message: String
    /// The store directory, when the error concerns one.
    public var path: String?
    /// The partition key, when the error concerns one.
    public var key: String?
    /// The global position, when the error concerns one record.
    public var position: UInt64?
    /// The version the caller expected (version conflicts).
    public var expectedVersion: ExpectedVersion?
    /// The key's actual current version (version conflicts); `0` means the key has no events.
    public var actualVersion: UInt64?
    /// The LMDB or system error code underneath, when there is one.
    public var underlyingCode: Int32?

    /// Makes an error; `message` should say what to do.
    public init(
        _ code: Code, _ message: String, path: String? = nil, key: String? = nil, position: UInt64? = nil,
        expectedVersion: ExpectedVersion? = nil, actualVersion: UInt64? = nil, underlyingCode: Int32? = nil
    ) {
        self.code = code
        self.message = message
        self.path = path
        self.key = key
        self.position = position
        self.expectedVersion = expectedVersion
        self.actualVersion = actualVersion
        self.underlyingCode = underlyingCode
    }

    public var description: String {
        "\(code): \(message)"
    }
}
