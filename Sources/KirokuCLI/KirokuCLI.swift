import ArgumentParser
import Foundation
import KirokuLog
import KirokuProjections

/// The `kiroku` command group as a library: a service can ship the same commands with its own
/// Swift projections registered.
///
/// ```swift
/// // Sources/my-service-admin/main.swift
/// import KirokuCLI
/// exit(await KirokuCLI.main(projections: [OrdersPerCustomer()]))
/// ```
///
/// Exit status: 0 success; 1 usage or input error; 2 version conflict or not found;
/// 3 integrity problem (verify).
public enum KirokuCLI {
    /// Runs the command line `arguments` (default: the process's) with these projections
    /// registered beside the built-in ones, and returns the exit status.
    public static func main(projections: [any Projection] = [], arguments: [String]? = nil) async -> Int32 {
        Registry.shared.register(projections)
        let arguments = arguments ?? Array(CommandLine.arguments.dropFirst())
        do {
            let command = try Kiroku.parseAsRoot(arguments)
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                var command = command
                try command.run()
            }
            return 0
        } catch let exit as CommandExit {
            if let message = exit.message { FileHandle.standardError.write(Data(("kiroku: " + message + "\n").utf8)) }
            return exit.status
        } catch let error as KirokuError {
            FileHandle.standardError.write(Data(("kiroku: \(error.message)\n").utf8))
            return ExitStatus.of(error)
        } catch {
            // Usage errors, and `--help` or `kiroku help`: a clean exit that carries the text.
            let code = Kiroku.exitCode(for: error)
            if code == .success {
                print(Kiroku.fullMessage(for: error))
                return 0
            }
            FileHandle.standardError.write(Data((Kiroku.fullMessage(for: error) + "\n").utf8))
            return ExitStatus.input
        }
    }
}

/// `kiroku`: the root command.
struct Kiroku: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiroku",
        abstract: "Kiroku: an embedded event store. Append, read, follow, project and search a store.",
        discussion: "Every command takes the store directory first. --json prints JSON (JSON Lines for streams). Exit status: 0 ok, 1 usage or input error, 2 version conflict or not found, 3 integrity problem.",
        subcommands: [
            Append.self, Import.self, Export.self, Backup.self, Delete.self, Erase.self, Retention.self, Read.self, Tail.self, ConsumersCommand.self, DeadLettersCommand.self,
            View.self, ProjectionsCommand.self, Search.self, Stats.self, Verify.self, RelayCommand.self, MirrorCommand.self, Serve.self,
            Bench.self, Demo.self,
        ]
    )
}
