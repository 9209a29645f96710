import ArgumentParser
import KirokuFeed
import Foundation
import KirokuLog

/// `kiroku consumers`: named consumers and their lag.
struct ConsumersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "consumers", abstract: "List consumers: position, lag in records and seconds, status (ok or stalled).")

    @Argument(help: "The store directory.") var store: String
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let log = try StoreOpener.open(store)
        defer { log.close() }
        let list = try await Consumers(log: log).list()
        // Who runs each consumer now: the holder of its lease, while it is not expired.
        let now = Date()
        var holders: [String: LeaseHolder] = [:]
        for consumer in list {
            if let lease = try await ConsumerLease.holder(of: consumer.name, in: log), lease.expiresAt > now { holders[consumer.name] = lease }
        }
        if output.json {
            for consumer in list {
                var object: [String: Any] = ["name": consumer.name, "position": consumer.position, "lagRecords": consumer.lagRecords,
                                             "lagSeconds": consumer.lagSeconds, "status": consumer.isStalled ? "stalled" : "ok"]
                if let lease = holders[consumer.name] {
                    object["holder"] = lease.holder
                    object["leaseExpiresAt"] = Output.iso(lease.expiresAt)
                }
                Output.json(object)
            }
        } else {
            Output.table(["NAME", "POSITION", "LAG", "LAG (s)", "STATUS", "HOLDER"], list.map {
                [$0.name, "\($0.position)", "\($0.lagRecords)", String(format: "%.1f", $0.lagSeconds), $0.isStalled ? "stalled" : "ok",
                 holders[$0.name]?.holder ?? "-"]
            })
        }
    }
}
