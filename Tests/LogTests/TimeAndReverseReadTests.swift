import Foundation
import KirokuFeed
import KirokuTestSupport
import Testing
@testable import KirokuLog

/// Reads by time (`position(atOrAfter:)`, `FeedStart.time`) and newest first
/// (`readAll(before:)`), against a brute-force scan, also across gaps retention left.
@Suite(.timeLimit(.minutes(3))) struct TimeAndReverseReadTests {
    @Test func theFirstPositionAtATimeMatchesAScanAlsoAcrossGaps() async throws {
        try await withLog(label: "kiroku-time") { log, _ in
            for commit in 0..<12 {
                try await log.append((0..<(1 + commit % 4)).map { AppendGroup(key: "k\(($0 + commit) % 5)", events: [event("T", "\(commit)")]) })
                try await Task.sleep(for: .milliseconds(3))
            }
            func check(_ context: String) throws {
                let all = try log.readAll(from: 1, limit: 1000)
                var instants = all.map(\.timestamp)
                for stamp in all.map(\.timestamp) { instants += [stamp - 0.000_001, stamp + 0.000_001, stamp + 0.001] }
                instants += [Date(timeIntervalSince1970: 0), Date().addingTimeInterval(60)]
                for instant in instants {
                    let micros = Int64((instant.timeIntervalSince1970 * 1_000_000).rounded(.up))
                    let expected = all.first { Int64((($0.timestamp.timeIntervalSince1970) * 1_000_000).rounded()) >= micros }?.position
                    #expect(try log.position(atOrAfter: instant) == expected, "\(context): at \(instant.timeIntervalSince1970)")
                }
                // Newest first, in pages of 4, is the log reversed.
                var reversed: [UInt64] = []
                var before = UInt64.max
                while true {
                    let page = try log.readAll(before: before, limit: 4)
                    guard let last = page.last else { break }
                    reversed += page.map(\.position)
                    before = last.position
                }
                #expect(reversed == all.map(\.position).reversed(), "\(context)")
            }
            try check("gapless")
            // Gaps in the middle (a deletion) and at the front (retention).
            try await log.delete(key: "k2")
            try await log.setRetention([.maxRecords(12)])
            try await log.enforceRetention()
            try await log.finishPendingRemovals()
            try check("with gaps")
            // A feed from a time starts at that position.
            let middle = try log.readAll(from: 1, limit: 1000).dropFirst(3).first!
            var iterator = EventFeed(log: log, from: .time(middle.timestamp)).makeAsyncIterator()
            #expect(try await iterator.next()?.position == middle.position)
        }
    }
}
