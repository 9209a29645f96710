// swift-tools-version: 6.1
// Kiroku's libFuzzer targets, a package of their own so that `swift build` in the root never
// builds them with the fuzzer's flags. Run with `make fuzz` from the root (see docs/RELIABILITY.md).
import PackageDescription

let package = Package(
    name: "KirokuFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "Kiroku", path: "..")],
    targets: [
        .target(name: "CLibFuzzer"),
        .executableTarget(name: "FuzzRecordDecoder", dependencies: ["CLibFuzzer", .product(name: "KirokuLog", package: "Kiroku")]),
        .executableTarget(name: "FuzzQueryParser", dependencies: ["CLibFuzzer", .product(name: "KirokuSearch", package: "Kiroku")]),
        .executableTarget(name: "FuzzMappingParser", dependencies: ["CLibFuzzer", .product(name: "KirokuSearch", package: "Kiroku")]),
        .executableTarget(name: "FuzzImportLine", dependencies: ["CLibFuzzer", .product(name: "KirokuCLI", package: "Kiroku")]),
    ],
    swiftLanguageModes: [.v6]
)
