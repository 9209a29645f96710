import Foundation
import KirokuLog

/// A JetStream cluster of `nats-server` processes on loopback, for tests, demos and
/// benchmarks: free ports, a configuration and a store folder per server under a temporary
/// directory, started and SIGKILLed by PID. Not for production (see docs/SCALE-OUT.md for a
/// real cluster's configuration).
///
/// ```swift
/// let cluster = try await LocalNATSCluster(size: 3)
/// defer { cluster.stop() }
/// let relay = Relay(log: log, options: RelayOptions(servers: cluster.servers))
/// ```
public final class LocalNATSCluster: @unchecked Sendable {
    /// One server.
    public struct Node: Sendable {
        /// Its `server_name` (n1, n2, …), as stream info names the leader.
        public let name: String
        /// Its client port.
        public let clientPort: Int
        let clusterPort: Int
        let httpPort: Int
        let config: String
        var processID: Int32?
    }

    /// The folder holding the servers' configurations, logs and JetStream stores.
    public let directory: String
    /// The servers.
    public var nodes: [Node] { lock.withLock { storedNodes } }
    private var storedNodes: [Node] = []
    private var processes: [Int: Process] = [:]
    private let lock = NSLock()

    /// The `nats-server` binary (Debian puts it in /usr/sbin, which a PATH may lack).
    ///
    /// - Throws: ``KirokuError/Code/natsUnreachable`` when none is installed.
    public static func serverBinary() throws -> URL {
        for candidate in ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return URL(fileURLWithPath: candidate)
        }
        for path in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(path)/nats-server"
            if FileManager.default.isExecutableFile(atPath: candidate) { return URL(fileURLWithPath: candidate) }
        }
        throw KirokuError(.natsUnreachable, "nats-server is not installed; install it (Debian: apt-get install nats-server, or run scripts/bootstrap).")
    }

    /// Starts `size` servers with JetStream and waits until each one's `/healthz` answers 200.
    ///
    /// - Parameter maxPayload: the servers' `max_payload`, when not the default 1 MiB.
    public init(size: Int = 3, maxPayload: Int? = nil) async throws {
        var template = Array((NSTemporaryDirectory() + "/kiroku-nats-XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw KirokuError(.permissionDenied, "Cannot make a temporary folder for the NATS servers.")
        }
        directory = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let ports = try freePorts(size * 3)
        for index in 0..<size {
            let name = "n\(index + 1)"
            let (client, cluster, http) = (ports[index * 3], ports[index * 3 + 1], ports[index * 3 + 2])
            let routes = (0..<size).filter { $0 != index }.map { "nats-route://127.0.0.1:\(ports[$0 * 3 + 1])" }
            var config = """
            server_name: \(name)
            listen: 127.0.0.1:\(client)
            http: 127.0.0.1:\(http)
            jetstream { store_dir: "\(directory + "/" + name)" }

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
            let path = directory + "/\(name).conf"
            try config.write(toFile: path, atomically: true, encoding: .utf8)
            storedNodes.append(Node(name: name, clientPort: client, clusterPort: cluster, httpPort: http, config: path))
        }
        do {
            for index in storedNodes.indices { try start(index) }
            for index in storedNodes.indices { try await waitHealthy(index) }
        } catch {
            stop()
            throw error
        }
    }

    /// The client addresses, comma-separated, as `--nats` takes them.
    public var urls: String { nodes.map { "nats://127.0.0.1:\($0.clientPort)" }.joined(separator: ",") }
    /// The client addresses.
    public var servers: [NATSServerURL] { nodes.map { NATSServerURL(host: "127.0.0.1", port: $0.clientPort) } }

    /// The index of the server named `name` (stream info's leader), if it is one of these.
    public func index(ofServer name: String) -> Int? { nodes.firstIndex { $0.name == name } }

    /// Starts server `index` (again).
    public func start(_ index: Int) throws {
        let nodes = self.nodes
        let process = Process()
        process.executableURL = try Self.serverBinary()
        process.arguments = ["-c", nodes[index].config]
        let logPath = directory + "/\(nodes[index].name).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)!
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        lock.withLock {
            processes[index] = process
            storedNodes[index].processID = process.processIdentifier
        }
    }

    /// SIGKILLs server `index` and reaps it.
    public func kill(_ index: Int) {
        guard let process = lock.withLock({ processes.removeValue(forKey: index) }) else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        lock.withLock { storedNodes[index].processID = nil }
    }

    /// Starts a killed server again and waits for it to be healthy.
    public func restart(_ index: Int) async throws {
        try start(index)
        try await waitHealthy(index)
    }

    /// Waits (up to 30 s) for the server's `/healthz` to answer 200 (503 while a restarted
    /// server catches up).
    public func waitHealthy(_ index: Int) async throws {
        let port = nodes[index].httpPort
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if Self.httpStatus(port: port, path: "/healthz") == 200 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw KirokuError(.natsUnreachable, "nats-server \(nodes[index].name) was not healthy within 30 s; see its log in \(directory).")
    }

    /// Stops every server and removes the folder.
    public func stop() {
        for index in nodes.indices { kill(index) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The status code of `GET path` on loopback (HTTP/1.0, a blocking socket with a 1 s
    /// timeout), or `nil` when nothing answers.
    static func httpStatus(port: Int, path: String) -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { return nil }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else { return nil }
        var response = [UInt8](repeating: 0, count: 64)
        let read = response.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard read > 12 else { return nil }
        // "HTTP/1.1 200 OK"
        let line = String(decoding: response.prefix(read), as: UTF8.self)
        let parts = line.split(separator: " ")
        return parts.count >= 2 ? Int(parts[1]) : nil
    }
}

/// `count` distinct free TCP ports on loopback (bound, read, released).
private func freePorts(_ count: Int) throws -> [Int] {
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
        guard bound else { throw KirokuError(.natsUnreachable, "No free TCP port on loopback for a NATS server.") }
        sockets.append(fd)
        let port = Int(UInt16(bigEndian: address.sin_port))
        if !ports.contains(port) { ports.append(port) }
    }
    return ports
}

