// The crash campaign's workload, shared by the process that is killed (`LogTestHelper crash`)
// and the harness that checks what survived (`CrashCampaignTests`).
import Foundation
import KirokuLog

/// What the crash worker appends and how it records what was acknowledged.
///
/// Each lane of the worker owns its keys and appends with exact expected versions, single
/// events and multi-key batches, every event with an id. An event's type and payload are a
/// function of its id, so the harness can check every stored byte without a copy.
///
/// The acknowledgement file, one line per fact, appended with one `write` per append and
/// flushed (`fsync`) every few milliseconds:
///
///     try <lane> <key>:<expected>:<id>,<id>;<key>:<expected>:<id>   before an append
///     ack <id> <key> <version> <position>                          after it returned
///
/// A `try` without the `ack`s of all its ids was in flight when the worker died: the next
/// run of that lane retries it exactly (an idempotent retry), as a client would.
public enum CrashWorkload {
    public static let lanes = 6
    public static let keysPerLane = 5
    /// The keyed processor's consumer name.
    public static let consumer = "crash-consumer"
    /// The search view's name.
    public static let searchView = "crash-search"
    /// The search view's mapping: documents by key, deleted by `Closed`.
    public static let mapping = """
    {
      "types": ["Noted", "Edited"],
      "id": "key",
      "fields": {
        "text":  {"path": "$.text",  "type": "text"},
        "owner": {"path": "$.owner", "type": "keyword"},
        "n":     {"path": "$.n",     "type": "number"}
      },
      "deleteOn": ["Closed"]
    }
    """
    /// The words of the payloads' text, Japanese and English: the harness searches each.
    public static let words = ["東京", "見積", "請求書", "会議", "京都", "invoice", "meeting", "quote", "shipping", "delay"]
    /// The event types, `*` for all (EventCounts' total).
    public static let types = ["Noted", "Edited", "Closed"]

    public static func key(lane: Int, _ index: Int) -> String { "lane\(lane)-k\(index)" }

    /// The event with this id: its type and payload are derived from the id alone.
    public static func event(id: String) -> EventData {
        let hash = FNV1a.hash(id.utf8)
        let type = hash % 10 == 0 ? "Closed" : (hash % 3 == 0 ? "Edited" : "Noted")
        let text = (0..<Int(1 + (hash >> 8) % 4)).map { words[Int((hash >> UInt64(12 + 5 * $0)) % UInt64(words.count))] }
        let payload = #"{"id":"\#(id)","n":\#(hash % 1000),"owner":"o\#(hash % 5)","text":"\#(text.joined(separator: " "))"}"#
        return EventData(type: type, payload: Data(payload.utf8), id: id)
    }

    /// One acknowledged event.
    public struct Ack: Sendable, Hashable {
        public let id: String
        public let key: String
        public let version: UInt64
        public let position: UInt64
    }

    /// An append as written in a `try` line.
    public static func describe(lane: Int, _ groups: [AppendGroup]) -> String {
        "try \(lane) " + groups.map { group in
            let expected = if case .exact(let version) = group.expected { String(version) } else { "any" }
            return "\(group.key):\(expected):" + group.events.map { $0.id ?? "" }.joined(separator: ",")
        }.joined(separator: ";")
    }

    /// The `ack` lines of an acknowledged append.
    public static func acks(_ groups: [AppendGroup], _ results: [AppendResult]) -> String {
        zip(groups, results).flatMap { group, result in
            group.events.enumerated().map { index, event in
                "ack \(event.id ?? "") \(group.key) \(result.versions.lowerBound + UInt64(index)) \(result.positions.lowerBound + UInt64(index))\n"
            }
        }.joined()
    }

    /// Reads an acknowledgement file: every acknowledged event, and per lane the append that
    /// was in flight when the worker died (if any). A torn last line is ignored.
    public static func read(_ contents: String) -> (acks: [Ack], pending: [Int: [AppendGroup]]) {
        let (acks, pending, _) = parse(contents)
        return (acks, pending)
    }

    /// The appends in flight when the worker died, per lane, read from the end of the file
    /// back only as far as the last `try` of every lane (the file grows with every run).
    public static func pending(inFile path: String) -> [Int: [AppendGroup]] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [:] }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        var window: UInt64 = 1 << 16
        while true {
            let start = size > window ? size - window : 0
            try? handle.seek(toOffset: start)
            var text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
            if start > 0, let newline = text.firstIndex(of: "\n") { text = String(text[text.index(after: newline)...]) }
            let (_, pending, lanes) = parse(text)
            if start == 0 || lanes.count == self.lanes { return pending }
            window *= 4
        }
    }

    /// Acknowledged events, appends in flight per lane, and the lanes that have a `try` line.
    private static func parse(_ contents: String) -> (acks: [Ack], pending: [Int: [AppendGroup]], lanes: Set<Int>) {
        var acks: [Ack] = []
        var pending: [Int: (groups: [AppendGroup], waiting: Set<String>)] = [:]
        var laneOfId: [String: Int] = [:]
        let complete = contents.hasSuffix("\n") ? contents : String(contents[..<(contents.lastIndex(of: "\n").map { contents.index(after: $0) } ?? contents.startIndex)])
        for line in complete.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.first == "try", fields.count == 3, let lane = Int(fields[1]) {
                let groups = fields[2].split(separator: ";").map { part -> AppendGroup in
                    let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
                    let ids = pieces[2].split(separator: ",").map(String.init)
                    return AppendGroup(key: String(pieces[0]), events: ids.map { event(id: $0) },
                                       expected: UInt64(pieces[1]).map { .exact($0) } ?? .any)
                }
                let ids = Set(groups.flatMap { $0.events.compactMap(\.id) })
                for id in ids { laneOfId[id] = lane }
                pending[lane] = (groups, ids)
            } else if fields.first == "ack", fields.count == 5, let version = UInt64(fields[3]), let position = UInt64(fields[4]) {
                let id = String(fields[1])
                acks.append(Ack(id: id, key: String(fields[2]), version: version, position: position))
                if let lane = laneOfId[id] { pending[lane]?.waiting.remove(id) }
            }
        }
        return (acks, pending.compactMapValues { $0.waiting.isEmpty ? nil : $0.groups }, Set(laneOfId.values))
    }
}
