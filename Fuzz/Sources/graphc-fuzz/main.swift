import Foundation

// One binary serves every harness: `FUZZ_TARGET` names it, and scripts/fuzz.sh runs the binary
// once per target with that target's corpus. SwiftPM links this file's top-level code as the
// program's `main`, so it hands the command line to libFuzzer's driver itself.

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? ""
guard let chosen = Harness(rawValue: name) else {
    let names = Harness.allCases.map(\.rawValue).joined(separator: ", ")
    fputs("graphc-fuzz: set FUZZ_TARGET to one of: \(names)\n", stderr)
    exit(2)
}
nonisolated(unsafe) var harness = chosen

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(runFuzzerDriver(&argc, &argv) { bytes, count in fuzzerTestOneInput(bytes, count) })
