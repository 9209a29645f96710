# Kiroku: the two commands of the quick start, and the ones around them.
SWIFT ?= swift

.PHONY: all bootstrap build test test-asan test-tsan crash-test fuzz demo tour bench bench-quick clean

all: build

bootstrap:
	@scripts/bootstrap

build: bootstrap
	$(SWIFT) build

# The whole test suite on the real LMDB (temporary directories, real helper processes), then
# README's library example built and run in a package of its own (one `import Kiroku`), and
# Examples/ActivityService built and driven over HTTP (scripts/check-activity-service).
# Bootstrap with `test` also installs chromium, for the console's browser test.
test:
	@scripts/bootstrap test
	$(SWIFT) build --build-tests
	$(SWIFT) test
	scripts/check-library-example
	scripts/check-activity-service

# The crash campaign at full length: 200 SIGKILLs of a worker running the mixed workload, the
# store checked after each (`make test` runs 20). Replay a run with KIROKU_SEED=<seed>.
CRASH_KILLS ?= 200
crash-test:
	@scripts/bootstrap test
	$(SWIFT) build --build-tests
	KIROKU_CRASH_KILLS=$(CRASH_KILLS) $(SWIFT) test --skip-build --filter CrashCampaignTests

# libFuzzer over the parsers that take outside bytes (record decoder, query parser, mapping
# parser, JSONL import line), FUZZ_SECONDS each, from the seed corpora in Fuzz/Corpus (see
# scripts/fuzz for where findings go).
FUZZ_SECONDS ?= 60
fuzz: bootstrap
	cd Fuzz && $(SWIFT) build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld
	scripts/fuzz $(FUZZ_SECONDS)

# The test suite under ThreadSanitizer (its own build folder); any report fails the run. Ten
# crash-campaign kills, one test at a time: the sanitizer slows every process several times
# over, and tests that wait with the default 5 s timeouts would starve each other.
test-tsan: bootstrap
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	KIROKU_CRASH_KILLS=10 $(SWIFT) test --skip-build --no-parallel --sanitize=thread --scratch-path .build-tsan

# The test suite under AddressSanitizer (its own build folder), leak detection on; the
# suppressions name leaks inside the toolchain's libraries (XCTest, Foundation), not Kiroku's.
ASAN_ENV = ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/lsan-suppressions.txt
test-asan: bootstrap
	$(SWIFT) build --build-tests --sanitize=address --scratch-path .build-asan
	$(ASAN_ENV) KIROKU_CRASH_KILLS=10 $(SWIFT) test --skip-build --sanitize=address --scratch-path .build-asan

# The main job (release build, so the numbers mean something): `kiroku demo` appends an
# activity-history stream from 32 tasks while a keyed consumer and a search view follow it,
# then prints what they measured, three searches and the status tables. It leaves the store.
demo: bootstrap
	$(SWIFT) build -c release --product kiroku
	.build/release/kiroku demo

# A tour of the CLI's commands on sample data (import, views, search, rebuild, stats, verify).
tour: bootstrap
	$(SWIFT) build -c release --product kiroku
	scripts/tour

# The benchmark suite: Kiroku beside raw LMDB, in one run; rewrites docs/BENCHMARKS.md.
# The search benchmarks index SEARCH_DOCS documents (1M by default). QUICK=1 shortens every
# benchmark (see bench-quick).
SEARCH_DOCS ?= 1000000
IMPORT_LINES ?= 1000000
LIFECYCLE_RECORDS ?= 1000000
QUICK ?=
BENCH_COMMAND ?= make bench

bench:
	@scripts/bootstrap bench
	mkdir -p .build-bench
	cd Benchmarks && $(SWIFT) build -c release --product kiroku-bench-appender
	cd Benchmarks && $(SWIFT) build -c release --product kiroku-search-probe
	cd Benchmarks && $(SWIFT) build -c release --product kiroku-import-probe
	Benchmarks/.build/release/kiroku-search-probe $(SEARCH_DOCS) > .build-bench/search-probe.json
	$(SWIFT) build -c release --product kiroku
	.build/release/kiroku bench relay --json > .build-bench/relay.json
	Benchmarks/.build/release/kiroku-import-probe .build/release/kiroku $(IMPORT_LINES) > .build-bench/import.json
	.build/release/kiroku bench lifecycle --records $(LIFECYCLE_RECORDS) --payload 800 --json > .build-bench/lifecycle.json
	.build/release/kiroku bench decide --records 100000 --duration 5 --json > .build-bench/decide.json
	rm -rf .build-bench/tantivy-store .build-bench/tantivy-export
	.build/release/kiroku bench search .build-bench/tantivy-store --documents $(SEARCH_DOCS) --duration 20 --export .build-bench/tantivy-export --json > .build-bench/kiroku-search.json
	scripts/bench-tantivy .build-bench/tantivy-export .build-bench/kiroku-search.json 20 > .build-bench/tantivy.json
	rm -rf .build-bench/tantivy-store .build-bench/tantivy-export
	cd Benchmarks && KIROKU_BENCH_QUICK=$(QUICK) KIROKU_SEARCH_DOCS=$(SEARCH_DOCS) $(SWIFT) package --disable-sandbox benchmark --no-progress --format markdown --path stdout > ../.build-bench/results.md
	rm -rf $${TMPDIR:-/tmp}/kiroku-search-bench-*
	scripts/bench-report .build-bench/results.md "$(BENCH_COMMAND)" > docs/BENCHMARKS.md
	@echo "Wrote docs/BENCHMARKS.md"

# The same suite in a few minutes: shorter runs, fewer samples, 100,000 search documents.
# Its numbers are rougher; it rewrites docs/BENCHMARKS.md too (commit the full run's).
bench-quick:
	$(MAKE) bench QUICK=1 SEARCH_DOCS=100000 IMPORT_LINES=100000 LIFECYCLE_RECORDS=100000 BENCH_COMMAND="make bench-quick"

clean:
	rm -rf .build .build-asan .build-tsan .build-fuzz Benchmarks/.build Fuzz/.build
