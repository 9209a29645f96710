// libFuzzer target: built by `make fuzz` with -sanitize=fuzzer,address and -parse-as-library.
@_spi(Fuzzing) import KirokuCLI

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    ImportFuzzing.parseLine(UnsafeRawBufferPointer(start: start, count: count))
    return 0
}
