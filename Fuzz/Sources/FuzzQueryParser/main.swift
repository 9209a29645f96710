// libFuzzer target: built by `make fuzz` with -sanitize=fuzzer,address and -parse-as-library.
@_spi(Fuzzing) import Projections

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    SearchFuzzing.parseQuery(UnsafeRawBufferPointer(start: start, count: count))
    return 0
}
