import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KirokuNATS
import KirokuTestSupport

/// A real three-node JetStream cluster on loopback: `nats-server` processes on free ports,
/// each with its own store directory under a temporary folder, stopped by PID.
final class NATSCluster: @unchecked Sendable {
    struct Node {
        let name: String
        let clientPort: Int
        let clusterPort: Int
        let httpPort: Int
        let config: String
        var process: Process?
    }

    let directory: TemporaryDirectory
    private(set) var nodes: [Node] = []
    private let lock = NSLock()

    /// The `nats-server` binary (Debian puts it in /usr/sbin).
    static func serverBinary() throws -> URL {
        for candidate in ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return URL(fileURLWithPath: candidate)
        }
        for path in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(path)/nats-server"
            if FileManager.default.isExecutableFile(atPath: candidate) { return URL(fileURLWithPath: candidate) }
        }
        throw ClusterFailure("nats-server is not installed; run scripts/bootstrap (make test does)")
    }

    /// Starts `size` servers and waits until each one's `/healthz` answers 200.
    init(size: Int = 3, maxPayload: Int? = nil) async throws {
        directory = TemporaryDirectory("kiroku-nats")
        let ports = try freePorts(size * 3)
        for index in 0..<size {
            let name = "n\(index + 1)"
            let (client, cluster, http) = (ports[index * 3], ports[index * 3 + 1], ports[index * 3 + 2])
            let routes = (0..<size).filter { $0 != index }.map { "nats-route://127.0.0.1:\(ports[$0 * 3 + 1])" }
            var config = """
            server_name: \(name)
            listen: 127.0.0.1:\(client)
            http: 127.0.0.1:\(http)
            jetstream { store_dir: "\(directory.sub(name))" }

            """
            if let maxPayload { config += "max_payload: \(maxPayload)\n" }
            if size > 1 {
                config += """
                cluster {
                  name: kiroku-test
                  listen: 127.0.0.1:\(cluster)
                  routes: [\(routes.joined(separator: ", "))]
                }

                """
            }
            let path = directory.sub("\(name).conf")
            try config.write(toFile: path, atomically: true, encoding: .utf8)
            nodes.append(Node(name: name, clientPort: client, clusterPort: cluster, httpPort: http, config: path))
        }
        for index in nodes.indices { try start(index) }
        for index in nodes.indices { try await waitHealthy(index) }
    }

    /// The client addresses, comma-separated, as `--nats` takes them.
    var urls: String { nodes.map { "nats://127.0.0.1:\($0.clientPort)" }.joined(separator: ",") }
    var servers: [NATSServerURL] { nodes.map { NATSServerURL(host: "127.0.0.1", port: $0.clientPort) } }

    func index(ofServer name: String) -> Int? { nodes.firstIndex { $0.name == name } }

    func start(_ index: Int) throws {
        let process = Process()
        process.executableURL = try Self.serverBinary()
        process.arguments = ["-c", nodes[index].config]
        let logPath = directory.sub("\(nodes[index].name).log")
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)!
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        lock.withLock { nodes[index].process = process }
    }

    /// SIGKILLs a server.
    func kill(_ index: Int) {
        guard let process = lock.withLock({ nodes[index].process }) else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        lock.withLock { nodes[index].process = nil }
    }

    /// Starts a killed server again and waits for it to be healthy.
    func restart(_ index: Int) async throws {
        try start(index)
        try await waitHealthy(index)
    }

    /// Waits (up to 30 s) for `/healthz` of a server to answer 200.
    func waitHealthy(_ index: Int) async throws {
        let url = URL(string: "http://127.0.0.1:\(nodes[index].httpPort)/healthz")!
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let (_, response) = try? await URLSession.shared.data(from: url),
               (response as? HTTPURLResponse)?.statusCode == 200 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ClusterFailure("nats-server \(nodes[index].name) not healthy within 30 s; see \(directory.path)")
    }

    /// Stops every server and removes their folders.
    func stop() {
        for index in nodes.indices { kill(index) }
        directory.remove()
    }
}

/// `count` distinct free TCP ports on loopback (bound, read, released).
func freePorts(_ count: Int) throws -> [Int] {
    var ports: [Int] = []
    var sockets: [Int32] = []
    defer { for socket in sockets { close(socket) } }
    while ports.count < count {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw ClusterFailure("no free port") }
        sockets.append(fd)
        let port = Int(UInt16(bigEndian: address.sin_port))
        if !ports.contains(port) { ports.append(port) }
    }
    return ports
}

struct ClusterFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
