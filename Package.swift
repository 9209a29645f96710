// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Kiroku",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Log", targets: ["Log"]),
        .library(name: "Feed", targets: ["Feed"]),
        .library(name: "Projections", targets: ["Projections"]),
        // Exported so the benchmark package can drive raw LMDB as its baseline.
        .library(name: "CLMDB", targets: ["CLMDB"]),
        .executable(name: "kiroku-demo", targets: ["KirokuDemo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CLMDB",
            path: "Sources/CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"]), .brew(["lmdb"])]
        ),
        .target(
            name: "Log",
            dependencies: [
                "CLMDB",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "Feed", dependencies: ["Log"]),
        .target(name: "Projections", dependencies: ["Feed", "Log"]),
        .executableTarget(name: "KirokuDemo", dependencies: ["Log"]),
        // A real second process for the cross-process tests (appends, map growth).
        .executableTarget(name: "LogTestHelper", dependencies: ["Log"]),
        .testTarget(name: "LogTests", dependencies: ["Log", "LogTestHelper"]),
    ],
    swiftLanguageModes: [.v6]
)
