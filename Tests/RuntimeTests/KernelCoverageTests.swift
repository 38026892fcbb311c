import GraphIR
@testable import Runtime
import XCTest

final class KernelCoverageTests: XCTestCase {
    /// `input` and `param` compute nothing (the executor binds feeds and parameters to them);
    /// every other registered op has exactly one CPU kernel, and the kernel table names no op
    /// the registry does not know.
    func testEveryOpButInputAndParamHasExactlyOneKernel() {
        for op in OpRegistry.all {
            if op == .input || op == .param {
                XCTAssertNil(CPUKernels.kernel(for: op), "op \(op.name) computes nothing but has a kernel")
            } else {
                XCTAssertNotNil(CPUKernels.kernel(for: op), "op \(op.name) has no CPU kernel")
                XCTAssertEqual(CPUKernels.ops.filter { $0.name == op.name }.count, 1, "op \(op.name): kernels registered")
            }
        }
        for k in CPUKernels.ops {
            guard let op = OpRegistry.named(k.name) else { XCTFail("kernel for unknown op \(k.name)"); continue }
            XCTAssertEqual(ObjectIdentifier(op.spec), ObjectIdentifier(k), "kernel \(k.name) is not the registered op's")
        }
        XCTAssertEqual(CPUKernels.table.count, OpRegistry.all.count - 2)
    }

    func testBLASReportsItsCoreAndGenericFallbackAdvice() {
        XCTAssertFalse(BLASInfo.coreName.isEmpty)
        XCTAssertGreaterThanOrEqual(BLASInfo.threads, 1)
        XCTAssertTrue(BLASInfo.isGenericFallback(coreName: "Prescott", cpuFlags: ["sse2", "avx2", "avx512f"]))
        XCTAssertTrue(BLASInfo.isGenericFallback(coreName: "Core2", cpuFlags: ["avx2"]))
        XCTAssertFalse(BLASInfo.isGenericFallback(coreName: "Prescott", cpuFlags: ["sse2", "sse3"]), "an old CPU gets old kernels rightly")
        XCTAssertFalse(BLASInfo.isGenericFallback(coreName: "SkylakeX", cpuFlags: ["avx2", "avx512f"]))
        let a512 = BLASInfo.advice(coreName: "Prescott", cpuFlags: ["avx2", "avx512f"]) ?? ""
        XCTAssertTrue(a512.contains("OPENBLAS_CORETYPE=SkylakeX") && a512.contains("Prescott"), a512)
        let a2 = BLASInfo.advice(coreName: "Prescott", cpuFlags: ["avx2"]) ?? ""
        XCTAssertTrue(a2.contains("OPENBLAS_CORETYPE=Haswell"), a2)
        XCTAssertNil(BLASInfo.advice(coreName: "Haswell", cpuFlags: ["avx2"]))
        XCTAssertEqual(BLASInfo.parseCPUFlags("processor\t: 0\nflags\t\t: fpu sse2 avx2\nbugs\t: x\n"), ["fpu", "sse2", "avx2"])
    }
}
