import GraphIR
@testable import Runtime
import XCTest

final class KernelCoverageTests: XCTestCase {
    func testEveryOpButInputAndParamHasAKernel() {
        for op in OpRegistry.all where op != .input && op != .param {
            XCTAssertNotNil(op.kernel, "op \(op.name) has no CPU kernel")
        }
        XCTAssertNil(OpDef.input.kernel); XCTAssertNil(OpDef.param.kernel)
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
