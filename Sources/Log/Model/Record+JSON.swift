import Foundation

extension Record {
    /// The record as the JSON object `kiroku read`, `kiroku tail` and the HTTP API show
    /// (for `JSONSerialization`): position, key, version, type, timestamp (ISO 8601 with
    /// milliseconds), id, `deletion`, `erased`, `schema` (when not 1); `data` and `metadata`
    /// are the payload's JSON when it is JSON, else its UTF-8 text, else `dataBase64` /
    /// `metadataBase64`.
    public func jsonObject() -> [String: Any] {
        var object: [String: Any] = [
            "position": position, "key": key, "version": version, "type": type,
            "timestamp": timestamp.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)),
        ]
        if let id { object["id"] = id }
        if let deletion { object["deletion"] = deletion.rawValue }
        if isErased { object["erased"] = true }
        if schemaVersion != 1 { object["schema"] = schemaVersion }
        func put(_ data: Data, _ name: String) {
            if let value = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) {
                object[name] = value
            } else if let text = String(data: data, encoding: .utf8) {
                object[name] = text
            } else {
                object[name + "Base64"] = data.base64EncodedString()
            }
        }
        put(payload, "data")
        if let metadata { put(metadata, "metadata") }
        return object
    }
}
