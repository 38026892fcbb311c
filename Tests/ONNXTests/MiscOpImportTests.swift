import Foundation
import GraphIR
import Runtime
import XCTest
@testable import ONNX

/// Dropout, Pad, Slice, MatMul, BatchNormalization, ArgMax and ReduceMax/Min as the ONNX
/// backend tests use them, each against a reference computed here by the ONNX definition.
final class MiscOpImportTests: XCTestCase {
    typealias M = ModelMaker

    /// Imports `nodes`, runs them on `feeds` (float or int tensors, by name) and gives `outputs`.
    func run(_ nodes: [Onnx_NodeProto], inputs: [(String, HostTensor)], outputs: [String],
             initializers: [Onnx_TensorProto] = [], opset: Int64 = 18) throws -> [HostTensor] {
        let declared = inputs.map { M.input($0.0, $0.1.shape.map { Int64($0) }, elemType: $0.1.dtype == .f32 ? 1 : 7) }
        let m = M.model(nodes: nodes, inputs: declared, outputs: outputs, initializers: initializers, opset: opset)
        let results = try ImportedRun(model: try M.load(m)).run(Dictionary(uniqueKeysWithValues: inputs))
        return try outputs.map { try XCTUnwrap(results[$0], "no output \($0)") }
    }

    func ints(_ name: String, _ v: [Int64], shape: [Int]? = nil) -> Onnx_TensorProto {
        var t = Onnx_TensorProto(); t.name = name; t.dims = (shape ?? [v.count]).map(Int64.init); t.dataType = 7; t.int64Data = v; return t
    }

    func floats(_ shape: [Int], _ k: Float = 0.37) -> HostTensor {
        let n = shape.reduce(1, *)
        return HostTensor(shape: shape, floats: (0..<n).map { Float(($0 * 7) % 11) * k - 1.5 })
    }

    func assertClose(_ a: HostTensor, _ b: [Float], shape: [Int], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, shape, file: file, line: line)
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (x, y) in zip(a.floats, b) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(y)), file: file, line: line) }
    }

    // MARK: Dropout

    /// Imported for inference, Dropout is the identity whatever its ratio and training_mode
    /// (given at run time here), and its mask all true (1).
    func testDropoutWithRuntimeRatioAndTrainingModeIsTheIdentityWithAFullMask() throws {
        let x = floats([3, 4])
        let out = try run([M.node("Dropout", ["x", "r", "t"], ["y", "z"])],
                          inputs: [("x", x), ("r", HostTensor(shape: [], floats: [0.75])), ("t", HostTensor(shape: [], ints: [1]))],
                          outputs: ["y", "z"])
        XCTAssertEqual(out[0].floats, x.floats)
        XCTAssertEqual(out[1].dtype, .i64)
        XCTAssertEqual(out[1].shape, [3, 4])
        XCTAssertEqual(out[1].ints, [Int64](repeating: 1, count: 12))
    }

    /// Imported for training, the ratio must be known; a training_mode known to be false keeps
    /// the identity.
    func testDropoutImportedForTrainingNeedsAKnownRatio() throws {
        var r = Onnx_TensorProto(); r.name = "r"; r.dataType = 1; r.floatData = [0.3]
        var t = Onnx_TensorProto(); t.name = "t"; t.dataType = 9; t.int32Data = [0]
        let off = M.model(nodes: [M.node("Dropout", ["x", "r", "t"], ["y"])], inputs: [M.input("x", [2, 3])], outputs: ["y"],
                          initializers: [r, t], opset: 13)
        let model = try ONNXModel.load(data: try off.serializedData(), file: "test.onnx", folder: "/nonexistent", options: .init(training: true))
        XCTAssertFalse(model.graph.nodes.contains { $0.op == .dropoutMask })
        let on = M.model(nodes: [M.node("Dropout", ["x", "r"], ["y"])], inputs: [M.input("x", [2, 3])], outputs: ["y"], initializers: [r], opset: 13)
        let trained = try ONNXModel.load(data: try on.serializedData(), file: "test.onnx", folder: "/nonexistent", options: .init(training: true))
        XCTAssertEqual(trained.graph.nodes.first { $0.op == .dropoutMask }?.attributes[.dropProbability] ?? 0, 0.3, accuracy: 1e-6)
        let runtime = M.model(nodes: [M.node("Dropout", ["x", "r"], ["y"])], inputs: [M.input("x", [2, 3]), M.input("r", [])],
                              outputs: ["y"], opset: 13)
        XCTAssertThrowsError(try ONNXModel.load(data: try runtime.serializedData(), file: "test.onnx", folder: "/nonexistent",
                                                options: .init(training: true))) { error in
            XCTAssertTrue("\(error)".contains("the ratio (input 1) must be known when the model is imported for training"), "\(error)")
        }
    }

    // MARK: Pad

    /// numpy.pad: constant (value given at run time), edge, reflect and wrap, with axes.
    func testPadModesAxesAndARuntimeConstantValue() throws {
        let x = floats([2, 3])
        func expected(_ pads: [Int], _ mode: String, fill: Float) -> [Float] {
            var out: [Float] = []
            for r in 0..<(2 + pads[0] + pads[2]) { for col in 0..<(3 + pads[1] + pads[3]) {
                func src(_ o: Int, _ n: Int, _ b: Int) -> Int? {
                    var i = o - b
                    if i >= 0 && i < n { return i }
                    switch mode {
                    case "edge": return min(max(i, 0), n - 1)
                    case "reflect": while i < 0 || i >= n { i = i < 0 ? -i : 2 * (n - 1) - i }; return i
                    case "wrap": return ((i % n) + n) % n
                    default: return nil
                    }
                }
                if let i = src(r, 2, pads[0]), let j = src(col, 3, pads[1]) { out.append(x.floats[i * 3 + j]) } else { out.append(fill) }
            } }
            return out
        }
        let pads: [Int64] = [1, 2, 0, 4]
        let constant = try run([M.node("Pad", ["x", "pads", "v"], ["y"])], inputs: [("x", x), ("v", HostTensor(shape: [], floats: [1.25]))],
                               outputs: ["y"], initializers: [ints("pads", pads)])[0]
        assertClose(constant, expected([1, 2, 0, 4], "constant", fill: 1.25), shape: [3, 9])
        for mode in ["edge", "reflect", "wrap"] {
            var a = Onnx_AttributeProto(); a.name = "mode"; a.type = .string; a.s = Data(mode.utf8)
            let y = try run([M.node("Pad", ["x", "pads"], ["y"], [a])], inputs: [("x", x)], outputs: ["y"],
                            initializers: [ints("pads", [1, 2, 1, 2])])[0]
            assertClose(y, expected([1, 2, 1, 2], mode, fill: 0), shape: [4, 7])
        }
        // Only axis -1 padded, by 2 and 4, with the value known at import.
        var v = Onnx_TensorProto(); v.name = "v"; v.dataType = 1; v.floatData = [-3]
        let axes = try run([M.node("Pad", ["x", "pads", "v", "axes"], ["y"])], inputs: [("x", x)], outputs: ["y"],
                           initializers: [ints("pads", [2, 4]), v, ints("axes", [-1])])[0]
        assertClose(axes, expected([0, 2, 0, 4], "constant", fill: -3), shape: [2, 9])
    }

    /// Integer tensors pad as i64.
    func testPadOfAnIntegerTensor() throws {
        var a = Onnx_AttributeProto(); a.name = "mode"; a.type = .string; a.s = Data("edge".utf8)
        let y = try run([M.node("Pad", ["x", "pads"], ["y"], [a])], inputs: [("x", HostTensor(shape: [1, 2], ints: [4, -9]))],
                        outputs: ["y"], initializers: [ints("pads", [0, 1, 0, 2])])[0]
        XCTAssertEqual(y.dtype, .i64)
        XCTAssertEqual(y.ints, [4, 4, -9, -9, -9])
    }

    // MARK: Slice

    /// Negative steps, starts and ends past either end, and an empty result.
    func testSliceWithNegativeStepsAndOutOfBoundsStarts() throws {
        let x = floats([5, 4, 3])
        let y = try run([M.node("Slice", ["x", "s", "e", "a", "st"], ["y"])], inputs: [("x", x)], outputs: ["y"],
                        initializers: [ints("s", [20, 3, -1]), ints("e", [0, -100, -4]), ints("a", [0, 1, 2]), ints("st", [-1, -2, -2])])[0]
        // Axis 0: 4, 3, 2, 1 (start clamped to 4, end 0 excluded); axis 1: 3, 1; axis 2: 2, 0.
        var expected: [Float] = []
        for i in [4, 3, 2, 1] { for j in [3, 1] { for k in [2, 0] { expected.append(x.floats[(i * 4 + j) * 3 + k]) } } }
        assertClose(y, expected, shape: [4, 2, 2])
        let empty = try run([M.node("Slice", ["x", "s", "e", "a"], ["y"])], inputs: [("x", x)], outputs: ["y"],
                            initializers: [ints("s", [1000]), ints("e", [1000]), ints("a", [1])])[0]
        XCTAssertEqual(empty.shape, [5, 0, 3])
    }

    // MARK: MatMul

    /// numpy's matmul: 1-D operands on either side and broadcast batch dimensions.
    func testMatMulWithVectorsAndBroadcastBatches() throws {
        func reference(_ a: HostTensor, _ b: HostTensor, batch: [Int], m: Int, k: Int, n: Int,
                       aIndex: ([Int], Int, Int) -> Int, bIndex: ([Int], Int, Int) -> Int) -> [Float] {
            var out: [Float] = []
            for flat in 0..<batch.reduce(1, *) {
                var idx: [Int] = [], rest = flat
                for d in batch.reversed() { idx.insert(rest % d, at: 0); rest /= d }
                for i in 0..<m { for j in 0..<n {
                    var s: Float = 0
                    for p in 0..<k { s += a.floats[aIndex(idx, i, p)] * b.floats[bIndex(idx, p, j)] }
                    out.append(s)
                } }
            }
            return out
        }
        let a = floats([3, 1, 3, 4]), b = floats([1, 2, 4, 2], 0.21)
        let y = try run([M.node("MatMul", ["a", "b"], ["y"])], inputs: [("a", a), ("b", b)], outputs: ["y"])[0]
        assertClose(y, reference(a, b, batch: [3, 2], m: 3, k: 4, n: 2,
                                 aIndex: { idx, i, p in (idx[0] * 3 + i) * 4 + p }, bIndex: { idx, p, j in (idx[1] * 4 + p) * 2 + j }),
                    shape: [3, 2, 3, 2])
        let v = floats([4]), m3 = floats([2, 4, 3], 0.13)
        let left = try run([M.node("MatMul", ["v", "m"], ["y"])], inputs: [("v", v), ("m", m3)], outputs: ["y"])[0]
        assertClose(left, reference(v, m3, batch: [2], m: 1, k: 4, n: 3,
                                    aIndex: { _, _, p in p }, bIndex: { idx, p, j in (idx[0] * 4 + p) * 3 + j }), shape: [2, 3])
        let w = floats([4], 0.5)
        let dot = try run([M.node("MatMul", ["v", "w"], ["y"])], inputs: [("v", v), ("w", w)], outputs: ["y"])[0]
        assertClose(dot, [zip(v.floats, w.floats).map(*).reduce(0, +)], shape: [])
        let mat = floats([3, 4])
        let right = try run([M.node("MatMul", ["m", "w"], ["y"])], inputs: [("m", mat), ("w", w)], outputs: ["y"])[0]
        assertClose(right, (0..<3).map { i in (0..<4).map { mat.floats[i * 4 + $0] * w.floats[$0] }.reduce(0, +) }, shape: [3])
    }

    // MARK: BatchNormalization

    /// training_mode 1: normalised by the batch's statistics; the running ones come out updated.
    func testBatchNormalizationInTrainingMode() throws {
        let (n, c, hw) = (2, 3, 5)
        let x = floats([n, c, hw]), scale = floats([c], 0.4), bias = floats([c], 0.9)
        let mean = floats([c], 0.3), variance = HostTensor(shape: [c], floats: [0.5, 1.5, 2])
        var attrs = [M.int("training_mode", 1)]
        var mom = Onnx_AttributeProto(); mom.name = "momentum"; mom.type = .float; mom.f = 0.8
        attrs.append(mom)
        let out = try run([M.node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y", "rm", "rv"], attrs)],
                          inputs: [("x", x), ("s", scale), ("b", bias), ("m", mean), ("v", variance)], outputs: ["y", "rm", "rv"], opset: 15)
        var y = [Float](repeating: 0, count: x.count), rm: [Float] = [], rv: [Float] = []
        for ch in 0..<c {
            let idx = (0..<n).flatMap { b in (0..<hw).map { (b * c + ch) * hw + $0 } }
            let mu = idx.map { Double(x.floats[$0]) }.reduce(0, +) / Double(idx.count)
            let v = idx.map { (Double(x.floats[$0]) - mu) * (Double(x.floats[$0]) - mu) }.reduce(0, +) / Double(idx.count)
            for i in idx { y[i] = Float((Double(x.floats[i]) - mu) / (v + 1e-5).squareRoot() * Double(scale.floats[ch]) + Double(bias.floats[ch])) }
            rm.append(Float(Double(mean.floats[ch]) * 0.8 + mu * 0.2))
            rv.append(Float(Double(variance.floats[ch]) * 0.8 + v * 0.2))
        }
        assertClose(out[0], y, shape: [n, c, hw])
        assertClose(out[1], rm, shape: [c])
        assertClose(out[2], rv, shape: [c])
    }

    // MARK: ArgMax, ReduceMax / ReduceMin

    func testArgMaxSelectLastIndex() throws {
        let x = HostTensor(shape: [2, 3], floats: [2, 5, 5, 7, 1, 7])
        let y = try run([M.node("ArgMax", ["x"], ["y"], [M.int("axis", 1), M.int("select_last_index", 1)])],
                        inputs: [("x", x)], outputs: ["y"])[0]
        XCTAssertEqual(y.shape, [2, 1])
        XCTAssertEqual(y.ints, [2, 2])
    }

    /// A bool tensor is imported as i64 0/1: ReduceMax is any, ReduceMin all, and the results
    /// are i64 too.
    func testReduceMaxAndMinOfBools() throws {
        var data = Onnx_TensorProto(); data.name = "x"; data.dataType = 9; data.dims = [3, 2]; data.int32Data = [1, 0, 1, 1, 0, 0]
        for (op, expected) in [("ReduceMax", [Int64(1), 1, 0]), ("ReduceMin", [0, 1, 0])] {
            let m = M.model(nodes: [M.node(op, ["x", "axes"], ["y"], [M.int("keepdims", 0)])], inputs: [], outputs: ["y"],
                            initializers: [data, ints("axes", [1])], opset: 18)
            let y = try XCTUnwrap(try ImportedRun(model: try M.load(m)).run([:])["y"])
            XCTAssertEqual(y.dtype, .i64, op)
            XCTAssertEqual(y.ints, expected, op)
        }
    }
}
