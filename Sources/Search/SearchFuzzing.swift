import Foundation
import KirokuLog
import KirokuProjections

/// The search view's fuzz entry points, for the libFuzzer targets in `Fuzz/` and the
/// regression test that replays their corpora. Not API: `@_spi(Fuzzing)`.
@_spi(Fuzzing) public enum SearchFuzzing {
    /// The fields queries are parsed against: one of each type.
    static let fields = [
        SearchMapping.Field("text", .text), SearchMapping.Field("status", .keyword),
        SearchMapping.Field("amount", .number), SearchMapping.Field("date", .date),
    ]

    /// Parses `bytes` (UTF-8, bad sequences replaced) as query language, without and with a
    /// field list: it must parse or throw ``SearchError``, never trap or hang.
    public static func parseQuery(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        _ = try? QueryParser.parse(text)
        _ = try? QueryParser.parse(text, fields: fields)
    }

    /// Parses the bytes up to the first NUL as a JSON mapping and, when it is valid, maps a
    /// record whose payload is the bytes after the NUL (the view's own JSON parser and paths).
    public static func parseMapping(_ bytes: UnsafeRawBufferPointer) {
        let split = bytes.firstIndex(of: 0) ?? bytes.endIndex
        guard let mapping = try? SearchMapping(json: Data(bytes[..<split])) else { return }
        let payload = split < bytes.endIndex ? Data(bytes[(split + 1)...]) : Data()
        for type in (mapping.types ?? []) + ["Other"] {
            let record = Record(position: 7, key: "key-1", version: 3, timestamp: Date(timeIntervalSince1970: 1_700_000_000),
                                type: type, payload: payload, metadata: nil, id: "id-1")
            _ = try? mapping.document(record)
        }
    }
}
