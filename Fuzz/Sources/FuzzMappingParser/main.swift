// A libFuzzer target, built by `make fuzz` with -sanitize=fuzzer,address.
import CLibFuzzer
import Foundation
@_spi(Fuzzing) import KirokuSearch

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
    SearchFuzzing.parseMapping(UnsafeRawBufferPointer(start: data, count: size))
    return 0
})
