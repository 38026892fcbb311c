import Foundation
import GraphIR
import Runtime
import XCTest

/// exp, sigmoid and tanh run branch-free polynomial versions: against Double libm over the
/// whole float range that matters, with the special values.
final class KernelFastMathTests: XCTestCase {
    /// Relative error (absolute below 1) of op over `xs`.
    func worstError(_ op: OpDef, _ xs: [Float], _ f: (Double) -> Double) throws -> Double {
        let y = try runOp(op, [HostTensor(shape: [xs.count], floats: xs)]).floats
        return zip(xs, y).map { x, v in abs(Double(v) - f(Double(x))) / max(1, abs(f(Double(x)))) }.max() ?? 0
    }

    func testAgainstDoublePrecision() throws {
        let dense = (0..<20_001).map { Float($0 - 10_000) / 1_000 }          // -10 ... 10
        let wide = (0..<1_741).map { Float($0 - 870) / 10 }                 // -87 ... 87
        let tiny = (0..<200).map { Float($0 - 100) * 1e-5 }
        XCTAssertLessThan(try worstError(.exp, dense + wide, Foundation.exp), 3e-7)
        XCTAssertLessThan(try worstError(.sigmoid, dense + wide + tiny, { 1 / (1 + Foundation.exp(-$0)) }), 3e-7)
        XCTAssertLessThan(try worstError(.tanh, dense + wide + tiny, Foundation.tanh), 3e-7)
        // tanh keeps its relative accuracy near zero.
        let y = try runOp(.tanh, [HostTensor(shape: [3], floats: [1e-6, -3e-5, 0.1])]).floats
        for (v, x) in zip(y, [1e-6, -3e-5, 0.1]) { XCTAssertEqual(Double(v), Foundation.tanh(x), accuracy: abs(x) * 1e-6) }
    }

    func testSpecialValues() throws {
        let xs: [Float] = [.nan, .infinity, -.infinity, 89, 100, -88, -104, 0, -0.0]
        let e = try runOp(.exp, [HostTensor(shape: [xs.count], floats: xs)]).floats
        XCTAssertTrue(e[0].isNaN)
        XCTAssertEqual(Array(e[1...]), [.infinity, 0, .infinity, .infinity, 0, 0, 1, 1])
        let s = try runOp(.sigmoid, [HostTensor(shape: [xs.count], floats: xs)]).floats
        XCTAssertTrue(s[0].isNaN)
        XCTAssertEqual(Array(s[1...3]), [1, 0, 1])
        let t = try runOp(.tanh, [HostTensor(shape: [xs.count], floats: xs)]).floats
        XCTAssertTrue(t[0].isNaN)
        XCTAssertEqual(Array(t[1...4]), [1, -1, 1, 1])
    }
}
