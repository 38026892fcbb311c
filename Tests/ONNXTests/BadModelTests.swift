import Foundation
import GraphIR
import Runtime
import XCTest
@testable import ONNX

/// Bad ONNX input gets an error naming the file and, where one is at fault, the node; never a crash.
final class BadModelTests: XCTestCase {
    typealias M = ModelMaker

    func expectError(_ m: Onnx_ModelProto, folder: String = "/nonexistent", _ fragments: [String],
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try M.load(m, folder: folder), file: file, line: line) { e in
            let text = String(describing: e)
            for f in fragments { XCTAssertTrue(text.contains(f), "\(text) lacks \(f)", file: file, line: line) }
        }
    }

    /// x [N, 4] through one Relu named "act".
    func reluModel(opset: Int64 = 17) -> Onnx_ModelProto {
        M.model(nodes: [M.node("Relu", ["x"], ["y"], name: "act")], inputs: [M.input("x", [nil, 4])], outputs: ["y"], opset: opset)
    }

    func testAGoodModelLoads() throws {
        let model = try M.load(reluModel())
        XCTAssertEqual(model.graph.type(of: try XCTUnwrap(model.graph.input(named: "x"))).description, "f32[N,4]")
        XCTAssertEqual(model.graph.outputs.map(\.name), ["y"])
    }

    func testTruncatedAndNonProtobufFiles() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tiny_classifier/model.onnx")))
        for cut in [bytes.count / 2, bytes.count - 3, 7] {
            XCTAssertThrowsError(try ONNXModel.load(data: bytes.prefix(cut), file: "cut.onnx", folder: ".")) { e in
                XCTAssertTrue(String(describing: e).hasPrefix("cut.onnx: "), "\(e)")
            }
        }
        XCTAssertThrowsError(try ONNXModel.load(data: Data("graph cnn { conv }\n".utf8), file: "text.onnx", folder: ".")) { e in
            XCTAssertTrue(String(describing: e).contains("text.onnx: not an ONNX model"), "\(e)")
        }
        XCTAssertThrowsError(try ONNXModel.load(path: "/nonexistent/model.onnx")) { e in
            XCTAssertTrue(String(describing: e).contains("no such file"), "\(e)")
        }
        XCTAssertThrowsError(try ONNXModel.load(path: NSTemporaryDirectory())) { e in
            XCTAssertTrue(String(describing: e).contains("is a directory"), "\(e)")
        }
    }

    func testACycleNamesANodeInIt() {
        let m = M.model(nodes: [M.node("Relu", ["b"], ["a"], name: "first"), M.node("Relu", ["a"], ["b"], name: "second")],
                        inputs: [M.input("x", [2])], outputs: ["a"])
        expectError(m, ["test.onnx: node \"first\" (Relu)", "cycle"])
    }

    func testAnUndefinedInput() {
        let m = M.model(nodes: [M.node("Add", ["x", "missing"], ["y"], name: "sum")], inputs: [M.input("x", [2])], outputs: ["y"])
        expectError(m, ["test.onnx: node \"sum\" (Add): input \"missing\" is not defined"])
    }

    func testAnUnsupportedOpIsNamedWithItsNode() {
        let m = M.model(nodes: [M.node("NonMaxSuppression", ["x"], ["y"], name: "nms")], inputs: [M.input("x", [2])], outputs: ["y"])
        expectError(m, ["test.onnx: node \"nms\" (NonMaxSuppression): op NonMaxSuppression is not supported"])
        var other = M.node("Relu", ["x"], ["y"], name: "custom")
        other.domain = "com.microsoft"
        expectError(M.model(nodes: [other], inputs: [M.input("x", [2])], outputs: ["y"]), ["node \"custom\" (Relu)", "com.microsoft"])
    }

    func testOpsetsOutsideTheRange() {
        expectError(reluModel(opset: 8), ["opset 8 is outside the supported range 9 to 28"])
        expectError(reluModel(opset: 29), ["opset 29 is outside the supported range 9 to 28"])
        var none = reluModel()
        none.opsetImport = []
        expectError(none, ["imports no version of the default operator set"])
    }

    func testInitializerDataShorterThanItsShape() {
        var w = Onnx_TensorProto()
        w.name = "w"; w.dims = [1000, 1000]; w.dataType = 1; w.rawData = Data(count: 8)
        let m = M.model(nodes: [M.node("Add", ["x", "w"], ["y"], name: "add")], inputs: [M.input("x", [1000, 1000])],
                        outputs: ["y"], initializers: [w])
        expectError(m, ["tensor \"w\"", "needs 4000000 bytes of raw data but 8 are stored"])
        var typed = M.tensor("v", [3, 2], [1, 2, 3])
        typed.name = "v"
        expectError(M.model(nodes: [M.node("Add", ["x", "v"], ["y"])], inputs: [M.input("x", [3, 2])], outputs: ["y"], initializers: [typed]),
                    ["tensor \"v\"", "needs 6 values but float_data holds 3"])
    }

    func testSizesAreCheckedAgainstTheMemoryBudgetBeforeAllocating() {
        var w = Onnx_TensorProto()
        w.name = "huge"; w.dims = [1 << 20, 1 << 20, 1 << 10]; w.dataType = 1
        expectError(M.model(nodes: [M.node("Add", ["x", "huge"], ["y"])], inputs: [M.input("x", [1])], outputs: ["y"], initializers: [w]),
                    ["tensor \"huge\"", "more than the budget"])
        w.dims = [Int64.max, Int64.max]
        expectError(M.model(nodes: [M.node("Add", ["x", "huge"], ["y"])], inputs: [M.input("x", [1])], outputs: ["y"], initializers: [w]),
                    ["tensor \"huge\"", "out of range"])
        w.dims = [-1]
        expectError(M.model(nodes: [M.node("Add", ["x", "huge"], ["y"])], inputs: [M.input("x", [1])], outputs: ["y"], initializers: [w]),
                    ["tensor \"huge\"", "out of range"])
    }

    func external(_ location: String, length: Int? = nil) -> Onnx_ModelProto {
        var w = Onnx_TensorProto()
        w.name = "w"; w.dims = [2]; w.dataType = 1; w.dataLocation = .external
        var entry = Onnx_StringStringEntryProto(); entry.key = "location"; entry.value = location
        w.externalData = [entry]
        if let length { var l = Onnx_StringStringEntryProto(); l.key = "length"; l.value = String(length); w.externalData.append(l) }
        return M.model(nodes: [M.node("Add", ["x", "w"], ["y"])], inputs: [M.input("x", [2])], outputs: ["y"], initializers: [w])
    }

    func testExternalDataIsReadFromTheModelsFolderOnly() throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("onnx-external-\(getpid())")
        let folder = root.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        var values: [Float] = [1.5, -2]
        try Data(bytes: &values, count: 8).write(to: folder.appendingPathComponent("weights.bin"))
        try Data(bytes: &values, count: 8).write(to: root.appendingPathComponent("outside.bin"))
        try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent("link.bin"), withDestinationURL: root.appendingPathComponent("outside.bin"))

        let model = try M.load(external("weights.bin"), folder: folder.path)
        XCTAssertEqual(model.parameters["w"]?.floats, [1.5, -2])
        expectError(external("../outside.bin"), folder: folder.path, ["tensor \"w\"", "leaves the model's folder"])
        expectError(external("/etc/passwd"), folder: folder.path, ["leaves the model's folder"])
        expectError(external("link.bin"), folder: folder.path, ["leads out of the model's folder"])
        expectError(external("absent.bin"), folder: folder.path, ["no such file"])
        expectError(external("weights.bin", length: 4), folder: folder.path, ["\"length\" is 4 bytes but the tensor's shape needs 8"])
        try Data(count: 4).write(to: folder.appendingPathComponent("short.bin"))
        expectError(external("short.bin"), folder: folder.path, ["holds 4 bytes, too few"])
    }

    func testUnsupportedAttributesAndOutputsAreNamed() {
        let pool = M.node("MaxPool", ["x"], ["y", "indices"], name: "pool", [M.ints("kernel_shape", [2, 2]), M.int("storage_order", 3)])
        expectError(M.model(nodes: [pool], inputs: [M.input("x", [1, 1, 4, 4])], outputs: ["y"]),
                    ["node \"pool\" (MaxPool): storage_order 3 must be 0 (row-major) or 1 (column-major)"])
        // An output the converter does not make (here one Relu does not have).
        let extra = M.node("Relu", ["x"], ["y", "extra"], name: "act")
        expectError(M.model(nodes: [extra], inputs: [M.input("x", [1, 1, 4, 4])], outputs: ["extra"]),
                    ["node \"act\" (Relu)", "\"extra\"", "not computed"])
        let badShape = M.node("Add", ["x", "z"], ["y"], name: "mismatch")
        expectError(M.model(nodes: [badShape], inputs: [M.input("x", [3]), M.input("z", [4])], outputs: ["y"]),
                    ["node \"mismatch\" (Add)", "do not broadcast"])
    }

    func testGraphLevelProblems() {
        expectError(M.model(nodes: [], inputs: [M.input("x", [2])], outputs: ["nothing"]), ["graph output \"nothing\" is not computed"])
        expectError(M.model(nodes: [], inputs: [M.input("x", [2], elemType: 8)], outputs: ["x"]), ["graph input \"x\"", "string"])
        let twice = M.model(nodes: [M.node("Relu", ["x"], ["y"]), M.node("Relu", ["x"], ["y"], name: "again")],
                            inputs: [M.input("x", [2])], outputs: ["y"])
        expectError(twice, ["node \"again\" (Relu): its output \"y\" is already defined"])
    }

    func testConstantsMadeAtImportCountTogetherAgainstTheBudget() {
        let saved = MemoryBudget.bytes
        MemoryBudget.bytes = 100 << 20
        defer { MemoryBudget.bytes = saved }
        var shape = Onnx_TensorProto(); shape.name = "shape"; shape.dims = [1]; shape.dataType = 7; shape.int64Data = [1_000_000]
        let nodes = (0..<20).map { M.node("ConstantOfShape", ["shape"], ["c\($0)"], name: "fill\($0)") }
        expectError(M.model(nodes: nodes, inputs: [M.input("x", [1])], outputs: ["c19"], initializers: [shape]),
                    ["(ConstantOfShape)", "more than the budget"])
    }

    func testShapeVectorsFoldOnlyWhileSmall() throws {
        // Forty Concats each doubling a shape vector: folding them all would need 2^41 entries.
        var nodes = [M.node("Shape", ["x"], ["v0"])]
        for k in 0..<40 { nodes.append(M.node("Concat", ["v\(k)", "v\(k)"], ["v\(k + 1)"], [M.int("axis", 0)])) }
        // The folding stops while the vectors are small; the 32nd Concat's result then exceeds
        // the element limit that every built type keeps.
        XCTAssertThrowsError(try M.load(M.model(nodes: nodes, inputs: [M.input("x", [2, 3])], outputs: ["v40"]))) { error in
            XCTAssertTrue("\(error)".contains("(Concat): concat: i64[8589934592] holds more than 4294967296 elements"), "\(error)")
        }
    }
}
