// swift-tools-version: 6.1
// Kiroku's benchmarks, a package of their own so that `swift test` in the root never builds
// the benchmark framework or the baselines. Run with `make bench` from the root.
import PackageDescription

let package = Package(
    name: "KirokuBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Kiroku", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // The search benchmarks' workload: the two stores built from the deterministic
        // activity-history corpus (KirokuCLI's, the one `kiroku demo` appends).
        .target(
            name: "SearchWorkload",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "KirokuLog", package: "Kiroku"),
                .product(name: "KirokuProjections", package: "Kiroku"), .product(name: "KirokuSearch", package: "Kiroku"),
                .product(name: "KirokuCLI", package: "Kiroku"), .product(name: "KirokuCorpus", package: "Kiroku"),
            ],
            path: "Sources/SearchWorkload",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Times both search index builds in a plain process (no malloc interposer): see
        // docs/BENCHMARKS.md.
        .executableTarget(
            name: "kiroku-search-probe",
            dependencies: ["SearchWorkload", .product(name: "KirokuCLI", package: "Kiroku")],
            path: "Helpers/SearchProbe",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "SearchBenchmarks",
            dependencies: [
                "SearchWorkload",
                .product(name: "KirokuCLI", package: "Kiroku"), .product(name: "KirokuCorpus", package: "Kiroku"),
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "KirokuLog", package: "Kiroku"),
                .product(name: "KirokuProjections", package: "Kiroku"), .product(name: "KirokuSearch", package: "Kiroku"),
            ],
            path: "Benchmarks/SearchBenchmarks",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "LogBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KirokuLog", package: "Kiroku"),
                .product(name: "CLMDB", package: "Kiroku"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Benchmarks/LogBenchmarks",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The import benchmark: `kiroku import` and `kiroku export` (child processes) beside
        // SQLite through GRDB importing the same file (see docs/BENCHMARKS.md).
        .executableTarget(
            name: "kiroku-import-probe",
            dependencies: [.product(name: "GRDB", package: "GRDB.swift")],
            path: "Helpers/ImportProbe",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The other process of the cross-process delivery benchmark (`make bench` builds it first).
        .executableTarget(
            name: "kiroku-bench-appender",
            dependencies: [.product(name: "KirokuLog", package: "Kiroku")],
            path: "Helpers/FeedAppender",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "ProjectionBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KirokuLog", package: "Kiroku"),
                .product(name: "KirokuProjections", package: "Kiroku"), .product(name: "KirokuSearch", package: "Kiroku"),
                .product(name: "KirokuCLI", package: "Kiroku"), .product(name: "KirokuCorpus", package: "Kiroku"),
            ],
            path: "Benchmarks/ProjectionBenchmarks",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "FeedBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KirokuLog", package: "Kiroku"),
                .product(name: "KirokuFeed", package: "Kiroku"),
            ],
            path: "Benchmarks/FeedBenchmarks",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
