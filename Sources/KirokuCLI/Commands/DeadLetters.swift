import ArgumentParser
import KirokuFeed
import Foundation
import KirokuLog

/// `kiroku deadletters`: list, retry, skip or purge dead letters.
struct DeadLettersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "deadletters", abstract: "List, retry, skip or purge the dead letters of consumers.")

    enum Action: String, ExpressibleByArgument, CaseIterable { case list, retry, skip, purge }

    @Argument(help: "The store directory.") var store: String
    @Argument(help: "list, retry, skip or purge.") var action: Action
    @Option(help: "The consumer (required for retry, skip and purge).") var consumer: String?
    @Option(help: "The dead letter's position (required for retry and skip).") var position: UInt64?
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let log = try StoreOpener.open(store)
        defer { log.close() }
        let letters = try await DeadLetters(log: log)
        switch action {
        case .list:
            let names: [String]
            if let consumer { names = [consumer] } else { names = try await Consumers(log: log).list().map(\.name) }
            let all = try names.flatMap { try letters.list(consumer: $0) }
            if output.json {
                for letter in all {
                    Output.json(["consumer": letter.consumer, "position": letter.position, "key": letter.key, "type": letter.type,
                                 "error": letter.error, "attempts": letter.attempts, "time": Output.iso(letter.time),
                                 "state": letter.state.rawValue, "holdsKey": letter.holdsKey])
                }
            } else {
                Output.table(["CONSUMER", "POSITION", "KEY", "TYPE", "ATTEMPTS", "STATE", "ERROR"], all.map {
                    [$0.consumer, "\($0.position)", $0.key, $0.type, "\($0.attempts)", $0.state.rawValue, $0.error]
                })
            }
        case .retry, .skip:
            guard let consumer, let position else { throw CommandExit.input("\(action.rawValue) needs --consumer NAME and --position P (see `kiroku deadletters \(store) list`).") }
            if action == .retry { try await letters.retry(consumer: consumer, position: position) } else { try await letters.skip(consumer: consumer, position: position) }
            if output.json { Output.json(["consumer": consumer, "position": position, "action": action.rawValue]) } else { print("\(action == .retry ? "Retrying" : "Skipped") \(consumer) position \(position).") }
        case .purge:
            guard let consumer else { throw CommandExit.input("purge needs --consumer NAME.") }
            let removed = try await letters.purge(consumer: consumer)
            if output.json { Output.json(["consumer": consumer, "purged": removed]) } else { print("Purged \(removed) dead letters of \(consumer).") }
        }
    }
}
