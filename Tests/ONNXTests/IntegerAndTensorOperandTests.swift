import Foundation
import GraphIR
import Runtime
import XCTest
@testable import ONNX

/// ONNX's integer arithmetic (int8 to uint64 tensors arrive as i64), Pow and Clip with
/// operands given at run time, and Cast at run time, each against the ONNX definition
/// computed here.
final class IntegerAndTensorOperandTests: XCTestCase {
    typealias M = ModelMaker
    /// ONNX element types: float, int8, int32, int64.
    static let float: Int32 = 1, int8: Int32 = 3, int32: Int32 = 6, int64: Int32 = 7

    func run(_ nodes: [Onnx_NodeProto], inputs: [(String, [Int], Int32)], feeds: [HostTensor], output: String = "y",
             initializers: [Onnx_TensorProto] = [], opset: Int64 = 17) throws -> HostTensor {
        let m = M.model(nodes: nodes, inputs: inputs.map { M.input($0.0, $0.1.map { Int64($0) }, elemType: $0.2) }, outputs: [output],
                        initializers: initializers, opset: opset)
        let r = try ImportedRun(model: try M.load(m))
        var f: [String: HostTensor] = [:]
        for (i, input) in inputs.enumerated() { f[input.0] = feeds[i] }
        return try XCTUnwrap(try r.run(f)[output])
    }

    func assertClose(_ a: [Float], _ b: [Float], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(y)), file: file, line: line) }
    }

    func testArithmeticOnInt8InputsBroadcastsAndTruncatesDivision() throws {
        let a: [Int64] = [-7, 7, 100, -128, 0, 9], b: [Int64] = [2, -3, 5]
        let cases: [(String, (Int64, Int64) -> Int64)] = [
            ("Add", { $0 + $1 }), ("Sub", { $0 - $1 }), ("Mul", { $0 * $1 }),
            ("Div", { x, y in Int64((Double(x) / Double(y)).rounded(.towardZero)) }),
            ("Max", { Swift.max($0, $1) }), ("Min", { Swift.min($0, $1) }),
        ]
        for (op, f) in cases {
            let y = try run([M.node(op, ["a", "b"], ["y"])], inputs: [("a", [2, 3], Self.int8), ("b", [3], Self.int8)],
                            feeds: [HostTensor(shape: [2, 3], ints: a), HostTensor(shape: [3], ints: b)])
            XCTAssertEqual(y.dtype, .i64, op)
            XCTAssertEqual(y.shape, [2, 3], op)
            XCTAssertEqual(y.ints, (0..<6).map { f(a[$0], b[$0 % 3]) }, op)
        }
    }

    /// Max, Div and Mul of shape arithmetic are computed at import by the ops' integer
    /// functions, so Reshape gets its target shape: [4,6] max [2,6] / [2,1] * [1,2] = [2,12].
    func testShapeArithmeticFoldsAtImport() throws {
        func ints(_ name: String, _ v: [Int64]) -> Onnx_TensorProto {
            var t = Onnx_TensorProto(); t.name = name; t.dims = [Int64(v.count)]; t.dataType = Self.int64; t.int64Data = v; return t
        }
        let x = (0..<24).map { Float($0) }
        let y = try run([M.node("Shape", ["x"], ["s"]), M.node("Max", ["s", "a"], ["m"]), M.node("Div", ["m", "d"], ["q"]),
                         M.node("Mul", ["q", "k"], ["r"]), M.node("Reshape", ["x", "r"], ["y"])],
                        inputs: [("x", [4, 6], Self.float)], feeds: [HostTensor(shape: [4, 6], floats: x)],
                        initializers: [ints("a", [2, 6]), ints("d", [2, 1]), ints("k", [1, 2])])
        XCTAssertEqual(y.shape, [2, 12])
        XCTAssertEqual(y.floats, x)
    }

    func testMixedElementTypesAreAnErrorAtTheNode() {
        let m = M.model(nodes: [M.node("Add", ["a", "b"], ["y"], name: "mix")],
                        inputs: [M.input("a", [3]), M.input("b", [3], elemType: Self.int64)], outputs: ["y"])
        XCTAssertThrowsError(try M.load(m)) { e in
            let message = String(describing: e)
            XCTAssertTrue(message.contains("node \"mix\" (Add)") && message.contains("operands must be both f32 or both i64, got f32[3] and i64[3]"), message)
        }
    }

    func testPowWithAnExponentTensorBroadcasts() throws {
        let x: [Float] = [0.5, 1, 2, 3, 4, 9], e: [Float] = [2, -1, 0.5]
        let y = try run([M.node("Pow", ["x", "e"], ["y"])], inputs: [("x", [2, 3], Self.float), ("e", [3], Self.float)],
                        feeds: [HostTensor(shape: [2, 3], floats: x), HostTensor(shape: [3], floats: e)])
        assertClose(y.floats, (0..<6).map { Float(Foundation.pow(Double(x[$0]), Double(e[$0 % 3]))) })
    }

    /// The result has the base's type: float ^ int64 is float, int64 ^ float is int64 (truncated).
    func testPowOfMixedTypesHasTheBasesType() throws {
        let floatBase = try run([M.node("Pow", ["x", "e"], ["y"])], inputs: [("x", [3], Self.float), ("e", [3], Self.int64)],
                                feeds: [HostTensor(shape: [3], floats: [1.5, 2, -3]), HostTensor(shape: [3], ints: [2, -1, 3])])
        XCTAssertEqual(floatBase.dtype, .f32)
        assertClose(floatBase.floats, [2.25, 0.5, -27])
        let intBase = try run([M.node("Pow", ["x", "e"], ["y"])], inputs: [("x", [4], Self.int32), ("e", [4], Self.float)],
                              feeds: [HostTensor(shape: [4], ints: [2, 3, 10, 5]), HostTensor(shape: [4], floats: [0.5, 2, -1, 1.5])])
        XCTAssertEqual(intBase.dtype, .i64)
        XCTAssertEqual(intBase.ints, [1, 9, 0, 11], "1.41, 9, 0.1 and 11.18 truncated toward zero")
        let ints = try run([M.node("Pow", ["x", "e"], ["y"])], inputs: [("x", [3], Self.int64), ("e", [], Self.int64)],
                           feeds: [HostTensor(shape: [3], ints: [-2, 3, 7]), HostTensor(shape: [], ints: [3])])
        XCTAssertEqual(ints.ints, [-8, 27, 343])
    }

    func testClipWithBoundsGivenAtRunTime() throws {
        let x: [Float] = [-3, -0.5, 0, 0.7, 2, 5]
        func clip(_ lo: Float, _ hi: Float) throws -> [Float] {
            try run([M.node("Clip", ["x", "lo", "hi"], ["y"])], inputs: [("x", [6], Self.float), ("lo", [], Self.float), ("hi", [], Self.float)],
                    feeds: [HostTensor(shape: [6], floats: x), HostTensor(scalar: lo), HostTensor(scalar: hi)]).floats
        }
        XCTAssertEqual(try clip(-1, 1), x.map { Swift.min(Swift.max($0, -1), 1) })
        XCTAssertEqual(try clip(2, 1), Array(repeating: 1, count: 6), "a min above the max gives the max, as numpy's clip")
        // Only a maximum, given at run time (the empty name skips the minimum).
        let top = try run([M.node("Clip", ["x", "", "hi"], ["y"])], inputs: [("x", [6], Self.float), ("hi", [], Self.float)],
                          feeds: [HostTensor(shape: [6], floats: x), HostTensor(scalar: 0.5)])
        XCTAssertEqual(top.floats, x.map { Swift.min($0, 0.5) })
    }

    func testClipWithKnownBoundsInReverseOrderGivesTheMax() throws {
        let x: [Float] = [-3, 0, 4]
        let y = try run([M.node("Clip", ["x", "lo", "hi"], ["y"])], inputs: [("x", [3], Self.float)], feeds: [HostTensor(shape: [3], floats: x)],
                        initializers: [M.tensor("lo", [], [2]), M.tensor("hi", [], [1])])
        XCTAssertEqual(y.floats, [1, 1, 1])
    }

    func testClipOfIntegers() throws {
        let x: [Int64] = [-100, -5, 0, 5, 100]
        let low = try run([M.node("Clip", ["x", "lo"], ["y"])], inputs: [("x", [5], Self.int8), ("lo", [], Self.int8)],
                          feeds: [HostTensor(shape: [5], ints: x), HostTensor(shape: [], ints: [-6])])
        XCTAssertEqual(low.ints, [-6, -5, 0, 5, 100])
        var hi = Onnx_TensorProto(); hi.name = "hi"; hi.dataType = Self.int8; hi.int32Data = [4]
        let both = try run([M.node("Clip", ["x", "", "hi"], ["y"])], inputs: [("x", [5], Self.int8)], feeds: [HostTensor(shape: [5], ints: x)],
                           initializers: [hi])
        XCTAssertEqual(both.ints, [-100, -5, 0, 4, 4])
        let none = try run([M.node("Clip", ["x"], ["y"])], inputs: [("x", [5], Self.int8)], feeds: [HostTensor(shape: [5], ints: x)])
        XCTAssertEqual(none.ints, x)
    }

    func testCastAtRunTimeTruncatesTowardZero() throws {
        let toInt = try run([M.node("Cast", ["x"], ["y"], [M.int("to", Int(Self.int64))])], inputs: [("x", [4], Self.float)],
                            feeds: [HostTensor(shape: [4], floats: [2.7, -2.7, 0.2, 1e3])])
        XCTAssertEqual(toInt.dtype, .i64)
        XCTAssertEqual(toInt.ints, [2, -2, 0, 1000])
        let toFloat = try run([M.node("Cast", ["x"], ["y"], [M.int("to", Int(Self.float))])], inputs: [("x", [2], Self.int64)],
                              feeds: [HostTensor(shape: [2], ints: [-3, 12])])
        XCTAssertEqual(toFloat.dtype, .f32)
        XCTAssertEqual(toFloat.floats, [-3, 12])
    }
}
