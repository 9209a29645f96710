// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Kiroku",
    platforms: [.macOS(.v15)],
    products: [
        // `import Kiroku`: the whole library.
        .library(name: "Kiroku", targets: ["Kiroku"]),
        .library(name: "KirokuLog", targets: ["KirokuLog"]),
        .library(name: "KirokuFeed", targets: ["KirokuFeed"]),
        .library(name: "KirokuWriteModel", targets: ["KirokuWriteModel"]),
        .library(name: "KirokuProjections", targets: ["KirokuProjections"]),
        .library(name: "KirokuSearch", targets: ["KirokuSearch"]),
        .library(name: "KirokuNATS", targets: ["KirokuNATS"]),
        .library(name: "KirokuScaleOut", targets: ["KirokuScaleOut"]),
        // The HTTP routes (console, health, metrics, JSON API) on Hummingbird: not in `Kiroku`, so
        // a service that does not serve them does not build Hummingbird.
        .library(name: "KirokuHTTP", targets: ["KirokuHTTP"]),
        // Exported so the benchmark package can drive raw LMDB as its baseline.
        .library(name: "CLMDB", targets: ["CLMDB"]),
        .library(name: "KirokuCLI", targets: ["KirokuCLI"]),
        // The demo's activity corpus, shared with the benchmark package.
        .library(name: "KirokuCorpus", targets: ["KirokuCorpus"]),
        .executable(name: "kiroku", targets: ["kiroku"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-async-algorithms", from: "1.1.4"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLMDB",
            path: "Sources/CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"]), .brew(["lmdb"])]
        ),
        // The layers, one direction: CLMDB ← Log ← Feed ← Projections ← Search ← CLI.
        .target(
            name: "KirokuLog",
            dependencies: [
                "CLMDB",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Sources/Log"
        ),
        // The write model (deciders, snapshots) on the log.
        .target(name: "KirokuWriteModel", dependencies: ["KirokuLog"], path: "Sources/WriteModel"),
        .target(
            name: "KirokuFeed",
            dependencies: [
                "KirokuLog",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Feed"
        ),
        .target(
            name: "KirokuProjections",
            dependencies: [
                "KirokuFeed", "KirokuLog",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Projections"
        ),
        .target(
            name: "KirokuSearch",
            dependencies: ["KirokuProjections", "KirokuFeed", "KirokuLog", .product(name: "Metrics", package: "swift-metrics")],
            path: "Sources/Search"
        ),
        // A NATS client on SwiftNIO: what the relay and the mirror need (core protocol, JetStream API).
        .target(
            name: "KirokuNATS",
            dependencies: [
                "KirokuLog",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            path: "Sources/NATS"
        ),
        // Scale-out: the log relayed to a JetStream stream, mirrored back into read replicas.
        .target(
            name: "KirokuScaleOut",
            dependencies: [
                "KirokuNATS", "KirokuFeed", "KirokuLog",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/ScaleOut"
        ),
        .target(
            name: "Kiroku",
            dependencies: ["KirokuLog", "KirokuFeed", "KirokuWriteModel", "KirokuProjections", "KirokuSearch", "KirokuNATS", "KirokuScaleOut"],
            path: "Sources/Kiroku"
        ),
        // HTTP: /health, /metrics and the JSON API, mountable on a service's own Hummingbird router.
        .target(
            name: "KirokuHTTP",
            dependencies: [
                "KirokuSearch", "KirokuProjections", "KirokuFeed", "KirokuLog",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/HTTP"
        ),
        // The demo's and the benchmarks' activity history (Japanese and English, Zipf-skewed).
        .target(name: "KirokuCorpus", dependencies: ["KirokuLog"], path: "Sources/Corpus"),
        .target(
            name: "KirokuCLI",
            dependencies: [
                "KirokuSearch", "KirokuProjections", "KirokuFeed", "KirokuLog", "KirokuWriteModel", "KirokuCorpus", "KirokuScaleOut", "KirokuNATS", "KirokuHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(name: "kiroku", dependencies: ["KirokuCLI"]),
        // A real second process for the cross-process tests (appends, map growth).
        // Test helpers, all on the test side: the shared support and a real second process.
        .executableTarget(name: "LogTestHelper", dependencies: ["KirokuLog", "KirokuFeed", "KirokuProjections", "KirokuSearch", "KirokuTestSupport"],
                          path: "Tests/LogTestHelper"),
        .target(name: "KirokuTestSupport", dependencies: ["KirokuLog", "KirokuCorpus"], path: "Tests/KirokuTestSupport"),
        .testTarget(name: "WriteModelTests", dependencies: ["KirokuWriteModel", "KirokuLog", "KirokuFeed", "KirokuProjections", "KirokuTestSupport"]),
        .testTarget(name: "LogTests", dependencies: [
            "KirokuLog", "KirokuFeed", "LogTestHelper", "KirokuTestSupport",
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        .testTarget(name: "KirokuCLITests", dependencies: [
            "Kiroku", "KirokuLog", "KirokuProjections", "KirokuSearch", "KirokuCLI", "KirokuTestSupport", "kiroku",
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        .testTarget(name: "ProjectionsTests", dependencies: ["KirokuProjections", "KirokuSearch", "KirokuFeed", "KirokuLog", "KirokuTestSupport", "LogTestHelper", "kiroku"]),
        .testTarget(name: "ScaleOutTests", dependencies: [
            "KirokuScaleOut", "KirokuNATS", "KirokuSearch", "KirokuProjections", "KirokuFeed", "KirokuLog", "KirokuTestSupport", "kiroku",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        .testTarget(name: "HTTPTests", dependencies: [
            "KirokuHTTP", "KirokuSearch", "KirokuProjections", "KirokuFeed", "KirokuLog", "KirokuTestSupport", "kiroku",
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .testTarget(name: "FeedTests", dependencies: [
            "KirokuFeed", "KirokuLog", "LogTestHelper", "KirokuTestSupport",
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Metrics", package: "swift-metrics"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
