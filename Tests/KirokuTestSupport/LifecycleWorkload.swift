import Foundation
import KirokuLog

/// The lifecycle crash campaign's workload, shared by the worker that is killed
/// (`LogTestHelper lifecycle`) and the harness that checks what survived.
public enum LifecycleWorkload {
    /// Keys that get deleted and erased (`k-0`…`k-7`), hard-deleted (`k-8`…`k-11`), and
    /// compacted (`c-0`…`c-5`).
    public static let keys = (0..<12).map { "k-\($0)" } + (0..<6).map { "c-\($0)" }
    public static let view = "lifecycle-search"
    public static let mapping = """
    {"types": ["Noted"], "id": "key", "fields": {"text": {"path": "$.text", "type": "text"}}}
    """

    /// A word found nowhere else: lower-case letters derived from the id.
    public static func word(id: String) -> String {
        var hash = FNV1a.hash(id.utf8)
        var letters = "zq"
        for _ in 0..<12 {
            letters.append(Character(Unicode.Scalar(UInt8(97 + hash % 26))))
            hash /= 26
        }
        return letters
    }

    /// The event with this id: a payload and metadata derived from it alone.
    public static func event(id: String) -> EventData {
        EventData(type: "Noted", payload: Data(#"{"text":"\#(word(id: id)) note","pad":"\#(String(repeating: "p", count: 120))"}"#.utf8),
                  metadata: Data("meta-\(word(id: id))".utf8), id: id)
    }
}
