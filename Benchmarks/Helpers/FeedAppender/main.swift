// A second process for the cross-process delivery benchmark: appends at a steady rate to a
// store another process follows. Usage: kiroku-bench-appender <store> <records/s> <count>
import Foundation
import KirokuLog

let arguments = CommandLine.arguments
guard arguments.count == 4, let rate = Int(arguments[2]), let count = Int(arguments[3]), rate > 0 else {
    FileHandle.standardError.write(Data("usage: kiroku-bench-appender <store> <records/s> <count>\n".utf8))
    exit(64)
}
var options = EventLog.Options()
options.durability = .noSync(flushInterval: .seconds(3600))
let log = try EventLog(path: arguments[1], options: options)
let clock = ContinuousClock()
let start = clock.now
let interval = Duration.seconds(1) / rate
for i in 0..<count {
    try await clock.sleep(until: start + interval * i, tolerance: .microseconds(10))
    try await log.append(to: "remote-\(i % 1000)", EventData(type: "Measured", payload: Data(count: 200)))
}
log.close()
