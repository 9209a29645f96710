import KirokuLog
import Logging

extension KeyedProcessor {
    /// A processor whose handler reacts to each record with events to append, exactly once.
    ///
    /// ```swift
    /// let invoicing = KeyedProcessor.reacting(log: log, consumer: "invoicing", selection: .prefix("order-")) { record in
    ///     let order = try record.decode(OrderPlaced.self)
    ///     return [AppendGroup(key: "invoice-\(order.id)", events: [try .json(InvoiceDue(total: order.total), type: "InvoiceDue")])]
    /// }
    /// ```
    ///
    /// The groups `react` returns are appended in one atomic commit, and every event gets the
    /// id `<consumer>@<position>/<n>` (``reactionId(consumer:position:index:)``; ids the
    /// handler set are replaced). That id is the record's completion mark, committed in the same
    /// transaction as the reaction: a record delivered again after a crash (the checkpoint is
    /// a watermark, committed every `checkpointInterval`) finds its mark and is not handled
    /// again, and a commit that was cut short left nothing. So after any crash each reaction
    /// exists exactly once. Returning no groups reacts with nothing (and marks nothing: such a
    /// record may be handled again after a crash, as with a plain handler).
    ///
    /// A reaction that cannot be appended (a `version-conflict` on an expected version, bad
    /// input) fails the attempt like a handler that throws: it is retried, then dead-lettered.
    /// Keep the processor's selection away from its own reactions, or it reacts to them too.
    public static func reacting(log: EventLog, consumer: String, selection: Selection = .all, configuration: Configuration = Configuration(),
                                logger: Logger = Logger(label: "kiroku.feed", factory: { _ in SwiftLogNoOpLogHandler() }),
                                _ react: @escaping @Sendable (Record) async throws -> [AppendGroup]) -> KeyedProcessor {
        KeyedProcessor(log: log, consumer: consumer, selection: selection, configuration: configuration, logger: logger) { record in
            // Reacted before (and the checkpoint did not move past it before a crash): done.
            if try log.position(ofEventId: Self.reactionId(consumer: consumer, position: record.position, index: 0)) != nil { return }
            var groups = try await react(record)
            var index = 0
            for g in groups.indices {
                for e in groups[g].events.indices {
                    groups[g].events[e].id = Self.reactionId(consumer: consumer, position: record.position, index: index)
                    index += 1
                }
            }
            guard index > 0 else { return }
            try await log.append(groups)
        }
    }

    /// The id of the `index`-th event (from 0, across the groups in order) a reacting
    /// processor appended for the record at `position`.
    public static func reactionId(consumer: String, position: UInt64, index: Int) -> String {
        "\(consumer)@\(position)/\(index)"
    }

    /// The consumer and source position of a reaction's event id, or `nil` for another id.
    public static func reactionSource(ofEventId id: String) -> (consumer: String, position: UInt64, index: Int)? {
        guard let slash = id.lastIndex(of: "/"), let at = id[..<slash].lastIndex(of: "@"),
              let position = UInt64(id[id.index(after: at)..<slash]), let index = Int(id[id.index(after: slash)...]) else { return nil }
        return (String(id[..<at]), position, index)
    }
}
