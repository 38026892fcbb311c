import Foundation
import GraphIR
import Runtime
import XCTest
@testable import ONNX

/// ONNX ops whose attributes graphc maps onto its own ops, each against a reference computed
/// here by the ONNX definition (loops over the elements).
final class OpConversionTests: XCTestCase {
    typealias M = ModelMaker

    func run(_ nodes: [Onnx_NodeProto], inputs: [(String, [Int])], feeds: [[Float]], output: String,
             initializers: [Onnx_TensorProto] = [], opset: Int64 = 17) throws -> HostTensor {
        let m = M.model(nodes: nodes, inputs: inputs.map { M.input($0.0, $0.1.map { Int64($0) }) }, outputs: [output],
                        initializers: initializers, opset: opset)
        let r = try ImportedRun(model: try M.load(m))
        var f: [String: HostTensor] = [:]
        for (i, (name, shape)) in inputs.enumerated() { f[name] = HostTensor(shape: shape, floats: feeds[i]) }
        return try XCTUnwrap(try r.run(f)[output])
    }

    func ints(_ name: String, _ v: [Int64]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto(); t.name = name; t.dims = [Int64(v.count)]; t.dataType = 7; t.int64Data = v; return t
    }

    func float(_ name: String, _ v: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .float; a.f = v; return a
    }

    func values(_ n: Int, _ k: Float = 0.37) -> [Float] { (0..<n).map { Float($0) * k - Float(n) * k / 3 } }

    func assertClose(_ a: [Float], _ b: [Float], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(y)), file: file, line: line) }
    }

    func testGemmWithTransposeAlphaAndBroadcastBeta() throws {
        let a = values(6), b = values(12, 0.21), c = values(4, 1.1)
        var bias = M.tensor("C", [4], c); bias.name = "C"
        let y = try run([M.node("Gemm", ["A", "B", "C"], ["Y"], [M.int("transA", 1), float("alpha", 2), float("beta", 0.5)])],
                        inputs: [("A", [3, 2]), ("B", [3, 4])], feeds: [a, b], output: "Y", initializers: [bias])
        var expected: [Float] = []
        for i in 0..<2 { for j in 0..<4 {
            var s: Float = 0
            for k in 0..<3 { s += a[k * 2 + i] * b[k * 4 + j] }
            expected.append(2 * s + 0.5 * c[j])
        } }
        XCTAssertEqual(y.shape, [2, 4])
        assertClose(y.floats, expected)
    }

    func testSoftmaxBeforeOpset13FlattensFromItsAxis() throws {
        let x = values(12)
        let y = try run([M.node("Softmax", ["x"], ["y"], [M.int("axis", 1)])], inputs: [("x", [2, 2, 3])], feeds: [x], output: "y", opset: 11)
        var expected: [Float] = []
        for row in 0..<2 {
            let part = x[(row * 6)..<(row * 6 + 6)]
            let m = part.max() ?? 0
            let e = part.map { Float(exp(Double($0 - m))) }
            let s = e.reduce(0, +)
            expected += e.map { $0 / s }
        }
        assertClose(y.floats, expected)
    }

    func testReshapeSqueezeUnsqueezeAcrossOpsets() throws {
        let x = values(6)
        let reshaped = try run([M.node("Reshape", ["x", "shape"], ["y"])], inputs: [("x", [2, 3])], feeds: [x], output: "y",
                               initializers: [ints("shape", [0, -1, 1])])
        XCTAssertEqual(reshaped.shape, [2, 3, 1])
        let old = try run([M.node("Unsqueeze", ["x"], ["u"], [M.ints("axes", [0, 3])]), M.node("Squeeze", ["u"], ["y"], [M.ints("axes", [0])])],
                          inputs: [("x", [2, 3])], feeds: [x], output: "y", opset: 11)
        XCTAssertEqual(old.shape, [2, 3, 1])
        let new = try run([M.node("Unsqueeze", ["x", "axes"], ["u"]), M.node("Squeeze", ["u"], ["y"])],
                          inputs: [("x", [2, 3])], feeds: [x], output: "y", initializers: [ints("axes", [-1])])
        XCTAssertEqual(new.shape, [2, 3])
        assertClose(new.floats, x)
    }

    func testSliceWithNegativeStartAndOpenEnd() throws {
        let x = values(12)
        let y = try run([M.node("Slice", ["x", "starts", "ends", "axes"], ["y"])], inputs: [("x", [3, 4])], feeds: [x], output: "y",
                        initializers: [ints("starts", [-3]), ints("ends", [Int64.max]), ints("axes", [1])])
        XCTAssertEqual(y.shape, [3, 3])
        assertClose(y.floats, (0..<3).flatMap { r in (1..<4).map { x[r * 4 + $0] } })
    }

    func testClipWithOnlyAMinimumInput() throws {
        let x = values(8)
        let y = try run([M.node("Clip", ["x", "lo"], ["y"])], inputs: [("x", [8])], feeds: [x], output: "y",
                        initializers: [M.tensor("lo", [], [-0.5])])
        assertClose(y.floats, x.map { max($0, -0.5) })
    }

    func testGatherByConstantIndices() throws {
        let x = values(12)
        let column = try run([M.node("Gather", ["x", "i"], ["y"], [M.int("axis", 1)])], inputs: [("x", [3, 4])], feeds: [x], output: "y",
                             initializers: [{ var t = ints("i", [2]); t.dims = []; return t }()])
        XCTAssertEqual(column.shape, [3])
        assertClose(column.floats, [x[2], x[6], x[10]])
        let picked = try run([M.node("Gather", ["x", "i"], ["y"], [M.int("axis", 1)])], inputs: [("x", [3, 4])], feeds: [x], output: "y",
                             initializers: [ints("i", [-1, 0])])
        XCTAssertEqual(picked.shape, [3, 2])
        assertClose(picked.floats, (0..<3).flatMap { r in [x[r * 4 + 3], x[r * 4]] })
    }

    func testSumSubAndMatMulWithAVector() throws {
        let a = values(6), b = values(3, 0.5)
        let y = try run([M.node("Sum", ["a", "a", "a"], ["s"]), M.node("Sub", ["s", "b"], ["d"]), M.node("MatMul", ["d", "b"], ["y"])],
                        inputs: [("a", [2, 3]), ("b", [3])], feeds: [a, b], output: "y")
        XCTAssertEqual(y.shape, [2])
        var expected: [Float] = [0, 0]
        for r in 0..<2 {
            for k in 0..<3 {
                let d: Float = 3 * a[r * 3 + k] - b[k]
                expected[r] += d * b[k]
            }
        }
        assertClose(y.floats, expected)
    }

    func testMaxAndMinOfSeveralBroadcastInputs() throws {
        let a = values(6), b = values(3, 0.9)
        let hi = try run([M.node("Max", ["a", "b", "a"], ["y"])], inputs: [("a", [2, 3]), ("b", [3])], feeds: [a, b], output: "y")
        assertClose(hi.floats, (0..<6).map { max(a[$0], b[$0 % 3]) })
        let lo = try run([M.node("Min", ["a", "b"], ["y"])], inputs: [("a", [2, 3]), ("b", [3])], feeds: [a, b], output: "y")
        assertClose(lo.floats, (0..<6).map { min(a[$0], b[$0 % 3]) })
    }

    func testConstantPadWithAValue() throws {
        let x = values(4)
        let y = try run([M.node("Pad", ["x", "pads", "v"], ["y"])], inputs: [("x", [2, 2])], feeds: [x], output: "y",
                        initializers: [ints("pads", [0, 1, 1, 0]), M.tensor("v", [], [9])])
        XCTAssertEqual(y.shape, [3, 3])
        assertClose(y.floats, [9, x[0], x[1], 9, x[2], x[3], 9, 9, 9])
    }

    func testConvWithAsymmetricPadsAndGroupsMatchesALoop() throws {
        let x = values(2 * 4 * 4), w = values(4 * 1 * 3 * 3, 0.11)
        var weight = M.tensor("w", [4, 1, 3, 3], w); weight.name = "w"
        let y = try run([M.node("Conv", ["x", "w"], ["y"], [M.int("group", 2), M.ints("pads", [1, 0, 0, 1]), M.ints("strides", [1, 2])])],
                        inputs: [("x", [1, 2, 4, 4])], feeds: [x], output: "y", initializers: [weight])
        // Padded height 4 + 1 + 0, width 4 + 0 + 1: output [1, 4, 3, 2].
        XCTAssertEqual(y.shape, [1, 4, 3, 2])
        var expected: [Float] = []
        for o in 0..<4 { for i in 0..<3 { for j in 0..<2 {
            var s: Float = 0
            let c = o / 2
            for p in 0..<3 { for q in 0..<3 {
                let h = i + p - 1, v = j * 2 + q
                if h >= 0, h < 4, v >= 0, v < 4 { s += x[c * 16 + h * 4 + v] * w[o * 9 + p * 3 + q] }
            } }
            expected.append(s)
        } } }
        assertClose(y.floats, expected)
    }
}
