import Foundation

extension KirokuError.Code {
    /// A record's payload does not decode as the requested type.
    public static let payloadDecoding = Self("payload-decoding")
    /// A value could not be encoded as an event payload.
    public static let payloadEncoding = Self("payload-encoding")
}

extension EventData {
    /// An event whose payload is `value` encoded as JSON. The store stays byte-oriented: this is
    /// a convenience, and other encodings append their bytes with ``init(type:payload:metadata:id:)``.
    ///
    /// The default encoder sorts keys. Foundation's `JSONEncoder` does not keep key order from one
    /// encoding to the next (on Linux two encodings of one value differ), and an idempotent
    /// repeat must carry the same bytes as the first append, or it is refused as `id-reused`.
    /// Give an encoder of your own with `.sortedKeys` in its `outputFormatting` for the same reason.
    ///
    /// ```swift
    /// struct OrderPlaced: Codable { var total: Int }
    /// try await log.append(to: "order-1", .json(OrderPlaced(total: 30), type: "OrderPlaced"))
    /// ```
    /// - Throws: ``KirokuError/Code/payloadEncoding`` when `value` does not encode.
    public static func json<Value: Encodable>(_ value: Value, type: String, id: String? = nil, metadata: Data? = nil,
                                              encoder: JSONEncoder? = nil) throws -> EventData {
        let encoder = encoder ?? {
            let sorted = JSONEncoder()
            sorted.outputFormatting = .sortedKeys
            return sorted
        }()
        do {
            return EventData(type: type, payload: try encoder.encode(value), metadata: metadata, id: id)
        } catch {
            throw KirokuError(.payloadEncoding, "A \(Value.self) for an event of type '\(type)' does not encode as JSON: \(error); fix the value (for example non-finite numbers).")
        }
    }
}

extension Record {
    /// The payload decoded from JSON as `Value`.
    ///
    /// - Throws: ``KirokuError/Code/payloadDecoding`` naming the position, type and reason.
    public func decode<Value: Decodable>(_: Value.Type = Value.self, decoder: JSONDecoder = JSONDecoder()) throws -> Value {
        do {
            return try decoder.decode(Value.self, from: payload)
        } catch {
            throw KirokuError(.payloadDecoding, "The payload of the '\(type)' event at position \(position) (key '\(key)') does not decode as \(Value.self): \(error); check that the event type maps to this Swift type.", key: key, position: position)
        }
    }
}
