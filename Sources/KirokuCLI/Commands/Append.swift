import ArgumentParser
import Foundation
import KirokuLog

/// `kiroku append`: one event.
struct Append: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append one event to a key; prints its position and the key's version.",
        discussion: "Exit 2 on a version conflict (the message has the expected and actual versions).")

    @Argument(help: "The store directory (created when missing).") var store: String
    @Option(help: "The partition key.") var key: String
    @Option(help: "The event type.") var type: String
    @Option(help: "The payload, JSON.") var data: String?
    @Option(name: .customLong("data-file"), help: "A file holding the JSON payload ('-' for standard input).") var dataFile: String?
    @Option(help: "An idempotency id: appending it again returns the first result.") var id: String?
    @Option(name: .customLong("expected-version"), help: "any, no-stream, exists, or a version number.") var expectedVersion = "any"
    @Option(help: "The schema version the payload is written in (1 to 65535; default 1). Services that register upcasters read older versions in their current form.") var schema: Int?
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let expected = try Self.expected(expectedVersion)
        let payload = try Self.payload(data: data, file: dataFile)
        let log = try StoreOpener.open(store, create: true)
        defer { log.close() }
        let result = try await log.append(to: key, EventData(type: type, payload: payload, id: id, schemaVersion: schema), expected: expected)
        if output.json {
            Output.json(["position": result.positions.upperBound, "version": result.versions.upperBound])
        } else {
            print("Appended to \(key): position \(result.positions.upperBound), version \(result.versions.upperBound)")
        }
    }

    static func expected(_ text: String) throws -> ExpectedVersion {
        switch text {
        case "any": return .any
        case "no-stream": return .noStream
        case "exists": return .streamExists
        default:
            guard let version = UInt64(text) else {
                throw CommandExit.input("--expected-version \(text) is not valid; use any, no-stream, exists or a version number.")
            }
            return .exact(version)
        }
    }

    /// The payload from `--data` or `--data-file`, checked to be JSON; empty when neither is given.
    static func payload(data: String?, file: String?) throws -> Data {
        if data != nil, file != nil { throw CommandExit.input("Give --data or --data-file, not both.") }
        let bytes: Data
        if let data {
            bytes = Data(data.utf8)
        } else if let file {
            if file == "-" {
                bytes = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let read = FileManager.default.contents(atPath: file) else {
                    throw CommandExit.input("Cannot read --data-file \(file); check the path.")
                }
                bytes = read
            }
        } else {
            return Data()
        }
        do {
            _ = try JSONSerialization.jsonObject(with: bytes, options: [.fragmentsAllowed])
        } catch {
            throw CommandExit.input("The payload is not valid JSON (\(error.localizedDescription)); pass a JSON value such as '{\"amount\": 3}'.")
        }
        return bytes
    }
}
