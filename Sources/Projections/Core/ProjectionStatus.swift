import Foundation

/// Where one version of a projection is.
public struct ProjectionStatus: Sendable, Hashable {
    /// The version's state.
    public enum State: String, Sendable, Hashable {
        /// Reading the log from the start, not serving reads yet.
        case building
        /// Serving reads and following the log.
        case active
        /// Replaced by a newer version; kept until pruned.
        case retired
        /// `apply` threw; stopped at `position` (see `error`).
        case failed
    }

    /// The projection's name.
    public let name: String
    /// The version.
    public let version: Int
    /// Its state.
    public let state: State
    /// Every record up to here is applied.
    public let position: UInt64
    /// Records in the log past `position`.
    public let lag: UInt64
    /// Records applied per second over the last few seconds.
    public let rate: Double
    /// Seconds until caught up at that rate; `nil` when not moving.
    public let eta: Double?
    /// What `apply` threw, for a failed version.
    public let error: String?
}
