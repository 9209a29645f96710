import KirokuLog

/// The exit statuses of `kiroku`.
enum ExitStatus {
    static let input: Int32 = 1
    static let conflictOrNotFound: Int32 = 2
    static let integrity: Int32 = 3

    static func of(_ error: KirokuError) -> Int32 {
        switch error.code {
        case .versionConflict, .idReused, .keyDeleted, .positionRemoved, .storeNotFound, .projectionNotReady, .deadLetterNotFound,
             .consumerBusy, .leaseLost, .projectionNotFound:
            return conflictOrNotFound
        case .corruption:
            return integrity
        default:
            return input
        }
    }
}

/// Ends a command with a status and an optional one-line message.
struct CommandExit: Error {
    let status: Int32
    let message: String?

    static func input(_ message: String) -> CommandExit { CommandExit(status: ExitStatus.input, message: message) }
    static func notFound(_ message: String) -> CommandExit { CommandExit(status: ExitStatus.conflictOrNotFound, message: message) }
}
