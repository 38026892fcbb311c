import Foundation
import GraphIR
import Runtime
import XCTest
@testable import ONNX

/// Expand, Tile and Where: computed at import on known tensors, graph ops on graph values; both
/// against references written here by numpy's rules.
final class BroadcastingImportTests: XCTestCase {
    typealias M = ModelMaker

    func ints(_ name: String, _ shape: [Int], _ v: [Int64]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto(); t.name = name; t.dims = shape.map(Int64.init); t.dataType = 7; t.int64Data = v; return t
    }

    func bools(_ name: String, _ shape: [Int], _ v: [Bool]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto(); t.name = name; t.dims = shape.map(Int64.init); t.dataType = 9; t.int32Data = v.map { $0 ? 1 : 0 }; return t
    }

    func values(_ n: Int) -> [Float] { (0..<n).map { Float($0) * 0.5 - 1 } }

    /// The element of a tensor of `shape` that numpy broadcasting reads at index `idx` of the result.
    func source(_ idx: [Int], _ shape: [Int], _ position: (Int, Int) -> Int = { i, size in size == 1 ? 0 : i }) -> Int {
        let off = idx.count - shape.count
        var flat = 0
        for (a, d) in shape.enumerated() { flat = flat * d + position(idx[a + off], d) }
        return flat
    }

    func unravel(_ flat: Int, _ shape: [Int]) -> [Int] {
        var rest = flat
        var idx = [Int](repeating: 0, count: shape.count)
        for a in shape.indices.reversed() { idx[a] = rest % shape[a]; rest /= shape[a] }
        return idx
    }

    func run(_ m: Onnx_ModelProto, _ feeds: [String: HostTensor], _ output: String = "y") throws -> (ImportedRun, HostTensor) {
        let r = try ImportedRun(model: try M.load(m))
        return (r, try XCTUnwrap(try r.run(feeds)[output]))
    }

    func testExpandOfAGraphValueMultipliesByOnesOfTheRepeatedAxesOnly() throws {
        let x = values(3)
        let m = M.model(nodes: [M.node("Expand", ["x", "shape"], ["y"])], inputs: [M.input("x", [3, 1])], outputs: ["y"],
                        initializers: [ints("shape", [3], [2, 1, 6])])
        let (run, y) = try run(m, ["x": HostTensor(shape: [3, 1], floats: x)])
        XCTAssertEqual(y.shape, [2, 3, 6])
        XCTAssertEqual(y.floats, (0..<36).map { x[source(unravel($0, [2, 3, 6]), [3, 1])] })
        let ones = try XCTUnwrap(run.model.graph.parameter(named: "#0.ones"))
        XCTAssertEqual(run.model.graph[ones].type.shape, Shape(known: [2, 1, 6]))
    }

    func testExpandKeepsASymbolicBatch() throws {
        let m = M.model(nodes: [M.node("Expand", ["x", "shape"], ["y"])], inputs: [M.input("x", [nil, 1])], outputs: ["y"],
                        initializers: [ints("shape", [2], [1, 4])])
        let model = try M.load(m)
        XCTAssertEqual(model.graph.type(of: try XCTUnwrap(model.graph.outputs.first?.1)).description, "f32[N,4]")
        let (_, y) = try run(m, ["x": HostTensor(shape: [2, 1], floats: [3, -1])])
        XCTAssertEqual(y.floats, [3, 3, 3, 3, -1, -1, -1, -1])
    }

    func testExpandAndTileOfKnownTensorsAreComputedAtImport() throws {
        let m = M.model(nodes: [M.node("Expand", ["a", "shape"], ["e"]), M.node("Tile", ["e", "reps"], ["t"]), M.node("Add", ["t", "x"], ["y"])],
                        inputs: [M.input("x", [4, 6])], outputs: ["y"],
                        initializers: [M.tensor("a", [2], [1, 2]), ints("shape", [2], [2, 1]), ints("reps", [2], [2, 3])])
        let (run, y) = try run(m, ["x": HostTensor(shape: [4, 6], floats: Array(repeating: 0, count: 24))])
        XCTAssertEqual(y.floats, Array(repeating: [1, 2, 1, 2, 1, 2], count: 4).flatMap { $0 })
        XCTAssertFalse(run.model.graph.nodes.contains { $0.op == .concat || $0.op == .mul }, "folded at import")
    }

    func testTileOfAGraphValueConcatenatesCopies() throws {
        let x = values(24)
        let m = M.model(nodes: [M.node("Tile", ["x", "reps"], ["y"])], inputs: [M.input("x", [2, 3, 4])], outputs: ["y"],
                        initializers: [ints("reps", [3], [3, 1, 2])])
        let (_, y) = try run(m, ["x": HostTensor(shape: [2, 3, 4], floats: x)])
        let shape = [6, 3, 8]
        XCTAssertEqual(y.shape, shape)
        XCTAssertEqual(y.floats, (0..<(6 * 3 * 8)).map { x[source(unravel($0, shape), [2, 3, 4]) { i, size in i % size }] })
    }

    func testTileRefusesEmptyAndMismatchedRepeats() throws {
        for reps: [Int64] in [[2], [1, 0]] {
            let m = M.model(nodes: [M.node("Tile", ["x", "reps"], ["y"], name: "tile")], inputs: [M.input("x", [2, 3])], outputs: ["y"],
                            initializers: [ints("reps", [reps.count], reps)])
            XCTAssertThrowsError(try M.load(m)) { e in XCTAssertTrue("\(e)".contains("node \"tile\" (Tile)"), "\(e)") }
        }
    }

    func testWhereOnGraphValuesBroadcastsAndPicksWithoutArithmetic() throws {
        let x: [Float] = [1, .infinity, 3], y: [Float] = [-1, .nan]
        let m = M.model(nodes: [M.node("Where", ["c", "x", "y"], ["z"])],
                        inputs: [M.input("c", [2, 3], elemType: 9), M.input("x", [3]), M.input("y", [2, 1])], outputs: ["z"])
        let cond: [Int64] = [1, 0, 1, 0, 0, 1]
        let (run, z) = try run(m, ["c": HostTensor(shape: [2, 3], ints: cond), "x": HostTensor(shape: [3], floats: x),
                                   "y": HostTensor(shape: [2, 1], floats: y)], "z")
        XCTAssertTrue(run.graph.nodes.contains { $0.op == .where })
        XCTAssertEqual(z.shape, [2, 3])
        let expected = (0..<6).map { i -> Float in cond[i] != 0 ? x[i % 3] : y[i / 3] }
        XCTAssertEqual(z.floats.map { $0.isNaN ? 99 : $0 }, expected.map { $0.isNaN ? 99 : $0 })
    }

    func testWhereExportedAndImportedAgainGivesTheSameOutputs() throws {
        let m = M.model(nodes: [M.node("Where", ["c", "x", "y"], ["z"])],
                        inputs: [M.input("c", [2, 3], elemType: 9), M.input("x", [3]), M.input("y", [2, 1])], outputs: ["z"])
        let feeds = ["c": HostTensor(shape: [2, 3], ints: [0, 1, 1, 0, 1, 0]), "x": HostTensor(shape: [3], floats: [1, 2, 3]),
                     "y": HostTensor(shape: [2, 1], floats: [-1, -2])]
        let (first, z) = try run(m, feeds, "z")
        let exported: Data = try ONNXExport.model(first.model.graph, parameters: ParameterStore()).serializedBytes()
        let again = try ImportedRun(model: try ONNXModel.load(data: exported, file: "where.onnx", folder: "."))
        XCTAssertEqual(try again.run(feeds)["z"], z)
        XCTAssertEqual(z.floats, [-1, 2, 3, -2, 2, -2])
    }

    func testWhereOfKnownTensorsIsComputedAtImport() throws {
        let m = M.model(nodes: [M.node("Where", ["c", "a", "b"], ["w"]), M.node("Add", ["w", "x"], ["y"])],
                        inputs: [M.input("x", [2, 2])], outputs: ["y"],
                        initializers: [bools("c", [2, 2], [true, false, true, true]), M.tensor("a", [2, 2], [1, 2, 3, 4]), M.tensor("b", [2], [9, 8])])
        let (run, y) = try run(m, ["x": HostTensor(shape: [2, 2], floats: [0, 0, 0, 0])])
        XCTAssertEqual(y.floats, [1, 8, 3, 4])
        XCTAssertFalse(run.model.graph.nodes.contains { $0.op == .where })
    }

    func testWhereNeedsABoolConditionAndOneTypeForXAndY() throws {
        let m = M.model(nodes: [M.node("Where", ["c", "x", "y"], ["z"], name: "pick")],
                        inputs: [M.input("c", [2], elemType: 1), M.input("x", [2]), M.input("y", [2])], outputs: ["z"])
        XCTAssertThrowsError(try M.load(m)) { e in XCTAssertTrue("\(e)".contains("the condition must be bool"), "\(e)") }
    }
}
