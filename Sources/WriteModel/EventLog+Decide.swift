import Foundation
import KirokuLog

extension EventLog {
    /// Loads a key's state, decides, and appends the decision's events with the exact version
    /// the state was loaded at; on a version conflict (another writer got there first) waits a
    /// random moment (growing with each attempt, up to 10 ms), loads again and decides again,
    /// up to `maxAttempts` times (Equinox's decider, Marten's `FetchForWriting`).
    ///
    /// The state is the newest snapshot of `snapshots.schema` (when there is one) folded with
    /// the key's later events by `evolve` (in place: a fold of a long history copies nothing); after the append a snapshot is taken when the
    /// version crosses a multiple of `snapshots.every`. A key deleted since its snapshot is
    /// folded from `initial`.
    ///
    /// With a `commandId`, the events get the ids `"<commandId>/0"`, `"<commandId>/1"`…, and a
    /// command decided before (its first id is stored) is not decided again: the result says
    /// `isRepeat`, so a client may retry a command after a timeout or a crash.
    ///
    /// ```swift
    /// let decision = try await log.decide(key: "cart-7", initial: Cart(), snapshots: .every(100),
    ///                                     commandId: request.id, evolve: Cart.evolve) { cart in
    ///     guard cart.items.count < 50 else { throw CartFull() }
    ///     return [.added(item: "tea", quantity: 1)]
    /// }
    /// ```
    ///
    /// - Throws: what `evolve` or `decide` throw (nothing is appended);
    ///   ``KirokuError/Code/versionConflict`` when every attempt conflicted (the message gives
    ///   the count); ``KirokuError/Code/payloadDecoding`` for an event that does not decode as
    ///   `Event` (or was erased); the append's errors (`key-deleted`, …).
    public func decide<State: Codable & Sendable, Event: DomainEvent>(
        key: String, initial: State, snapshots policy: SnapshotPolicy = .never, commandId: String? = nil, maxAttempts: Int = 20,
        evolve: (inout State, Event) throws -> Void, decide: (State) throws -> [Event]
    ) async throws -> Decision<State, Event> {
        let snapshots = Snapshots(log: self)
        var attempts = 0
        while true {
            attempts += 1
            let loaded = try await load(key: key, initial: initial, policy: policy, snapshots: snapshots, evolve: evolve)
            if let commandId, try position(ofEventId: "\(commandId)/0") != nil {
                return Decision(state: loaded.state, version: loaded.version, events: [], positions: nil, attempts: attempts,
                                isRepeat: true, fromSnapshot: loaded.fromSnapshot)
            }
            let events = try decide(loaded.state)
            guard !events.isEmpty else {
                return Decision(state: loaded.state, version: loaded.version, events: [], positions: nil, attempts: attempts,
                                isRepeat: false, fromSnapshot: loaded.fromSnapshot)
            }
            let data = try events.enumerated().map { index, event in
                try EventData.json(event, type: event.eventType, id: commandId.map { "\($0)/\(index)" })
            }
            let result: AppendResult
            do {
                result = try await append(to: key, data, expected: .exact(loaded.version))
            } catch let error as KirokuError where error.code == .versionConflict {
                if attempts < maxAttempts {
                    // Back off (random, growing to 10 ms), so that racing deciders on a hot key
                    // spread out instead of reloading in lockstep.
                    let ceiling = min(10_000, 100 << min(attempts, 7))
                    try await Task.sleep(for: .microseconds(Int.random(in: 0...ceiling)))
                    continue
                }
                throw KirokuError(.versionConflict, "Deciding on key '\(key)' gave up after \(attempts) attempts: another writer appended to it each time (last seen at version \(error.actualVersion.map(String.init) ?? "?")). Retry the command later, or raise maxAttempts.",
                                  key: key, expectedVersion: error.expectedVersion, actualVersion: error.actualVersion)
            }
            var state = loaded.state
            for event in events { try evolve(&state, event) }
            let version = result.version
            if policy.every > 0, version / policy.every > loaded.version / policy.every {
                try await snapshots.save(state, key: key, version: version, schema: policy.schema)
            }
            return Decision(state: state, version: version, events: events, positions: result.positions, attempts: attempts,
                            isRepeat: result.repeats == data.count, fromSnapshot: loaded.fromSnapshot)
        }
    }

    /// The key's state and the version it is at: the snapshot (if any, of this schema, and
    /// still the key's history) folded with the later events.
    private func load<State: Codable & Sendable, Event: DomainEvent>(
        key: String, initial: State, policy: SnapshotPolicy, snapshots: Snapshots, evolve: (inout State, Event) throws -> Void
    ) async throws -> (state: State, version: UInt64, fromSnapshot: Bool) {
        let current = try currentVersion(of: key) ?? 0
        var state = initial
        var from: UInt64 = 1
        var fromSnapshot = false
        if policy.every > 0, let snapshot = try await snapshots.load(State.self, key: key, schema: policy.schema), snapshot.version <= current {
            // Still this key's history: the next version is readable (not deleted or truncated).
            let next = snapshot.version == current ? [] : try read(key: key, from: snapshot.version + 1, limit: 1)
            if snapshot.version == current || next.first?.version == snapshot.version + 1 {
                state = snapshot.state
                from = snapshot.version + 1
                fromSnapshot = true
            }
        }
        let decoder = JSONDecoder()
        while from <= current {
            let page = try read(key: key, from: from, limit: 1000)
            for record in page where record.version <= current {
                if record.isErased {
                    throw KirokuError(.payloadDecoding, "Version \(record.version) of key '\(key)' (position \(record.position)) is erased: its state cannot be folded. Decide on a key that was not erased, or start it again after deleting it.", key: key, position: record.position)
                }
                try evolve(&state, try record.decode(Event.self, decoder: decoder))
            }
            guard let last = page.last, last.version < current else { break }
            from = last.version + 1
            // A long fold is CPU work: leave the cooperative pool to others between pages.
            await Task.yield()
        }
        return (state, current, fromSnapshot)
    }
}
