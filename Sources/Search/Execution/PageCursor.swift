import Foundation
import KirokuLog
import KirokuProjections

/// A page cursor: the sort key and doc number of the last hit of the page, and the statistics
/// the first page scored with.
struct Cursor: Codable {
    var key: SortKey
    var doc: UInt32
    var scoring: ScoringSnapshot?

    var position: (SortKey, UInt32) { (key, doc) }

    init(position: (SortKey, UInt32), scoring: ScoringSnapshot?) {
        key = position.0
        doc = position.1
        self.scoring = scoring
    }

    init(decoding text: String) throws {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let cursor = try? JSONDecoder().decode(Cursor.self, from: data) else {
            throw KirokuError(.invalidQuery, "Invalid query: the cursor '\(text)' is not one this view returned; pass the \"next\" value of the previous page unchanged.")
        }
        self = cursor
    }

    /// The cursor's text: the same page of the same view always gives the same text (keys
    /// sorted), in any process, so a replica's cursors equal its source's.
    func encoded() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = (try? encoder.encode(self)) ?? Data()
        // URL-safe base64 without padding, mapped byte by byte (Foundation's string search for
        // three replacements showed as 5% of a term query's time).
        var text = Array(data.base64EncodedData())
        while text.last == UInt8(ascii: "=") { text.removeLast() }
        for i in text.indices {
            if text[i] == UInt8(ascii: "+") { text[i] = UInt8(ascii: "-") } else if text[i] == UInt8(ascii: "/") { text[i] = UInt8(ascii: "_") }
        }
        return String(decoding: text, as: UTF8.self)
    }
}
