import KirokuFeed
import KirokuLog

/// A view derived from the log: it applies batches of records to its own state, in the same
/// transaction that records how far it has read (exactly-once effects).
///
/// ```swift
/// struct OrdersPerCustomer: Projection {
///     let name = "orders-per-customer"
///     let version = 1
///     let selection = Selection(types: ["OrderPlaced"])
///     let tables = ["orders"]
///     func apply(_ records: [Record], to state: ProjectionState) throws {
///         for record in records {
///             let customer = try record.decode(OrderPlaced.self).customer
///             try state.put((try state.get(Int.self, customer, in: "orders") ?? 0) + 1, customer, in: "orders")
///         }
///     }
/// }
/// ```
///
/// Bump `version` when `apply` changes meaning: the runner builds the new version from the
/// first record in a new environment while the old one keeps serving, and switches when the new
/// one has caught up (blue/green).
public protocol Projection: Sendable {
    /// The view's name: 1 to 64 characters of `a-z`, `0-9`, `-` and `_`.
    var name: String { get }
    /// The version of `apply`; at least 1.
    var version: Int { get }
    /// Which records `apply` receives.
    var selection: Selection { get }
    /// The state tables `apply` uses.
    var tables: [String] { get }
    /// Applies records, in log order, to the state. Throwing stops the projection with a failed
    /// status naming the batch; nothing of the batch is kept, and nothing is ever skipped.
    func apply(_ records: [Record], to state: ProjectionState) throws

    /// Optional: the part of applying a batch that needs no state (decoding, analysis). The
    /// runner calls it for the next batch while the current one is applied, on another core,
    /// and hands its result to ``apply(_:prepared:to:)``. Throwing here fails the batch as
    /// `apply` would. Default: `nil`.
    func prepare(_ records: [Record]) throws -> (any Sendable)?

    /// Applies a batch with what ``prepare(_:)`` made of it. Default: ``apply(_:to:)``.
    func apply(_ records: [Record], prepared: (any Sendable)?, to state: ProjectionState) throws
}

extension Projection {
    /// Nothing to prepare.
    public func prepare(_ records: [Record]) throws -> (any Sendable)? { nil }

    /// Applies the records; the prepared value is ignored.
    public func apply(_ records: [Record], prepared: (any Sendable)?, to state: ProjectionState) throws {
        try apply(records, to: state)
    }
}

extension KirokuError.Code {
    /// A projection's name or version is not valid.
    public static let invalidProjection = Self("invalid-projection")
    /// The projection's `apply` threw; the projection stopped at the position before the batch.
    public static let projectionFailed = Self("projection-failed")
    /// No such projection, or it has no active version yet.
    public static let projectionNotReady = Self("projection-not-ready")
    /// Waiting for a projection to reach a position took longer than the timeout.
    public static let projectionTimeout = Self("projection-timeout")
    /// No projection or view of that name (or with that version) is known for the store.
    public static let projectionNotFound = Self("projection-not-found")
}

extension Projection {
    func validate() throws {
        try ProjectionCatalog.validate(name: name)
        guard version >= 1 else {
            throw KirokuError(.invalidProjection, "Projection '\(name)' has version \(version); versions start at 1.")
        }
    }
}
