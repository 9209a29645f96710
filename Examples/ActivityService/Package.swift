// swift-tools-version: 6.1
// An example service on Kiroku: POST an activity, search it back (read-your-writes), with
// Kiroku's console, health and metrics mounted under /kiroku. See README.md.
import PackageDescription

let package = Package(
    name: "ActivityService",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Kiroku", path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(name: "ActivityService", dependencies: [
            .product(name: "Kiroku", package: "Kiroku"),
            .product(name: "KirokuHTTP", package: "Kiroku"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
