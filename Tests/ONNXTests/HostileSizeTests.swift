import Foundation
import GraphIR
import Runtime
import XCTest
@testable import ONNX

/// Sizes, strides and paddings chosen to overflow, to ask for terabytes or to unroll without
/// end: each gets an error naming the node, never a trap, a huge allocation or a hang.
final class HostileSizeTests: XCTestCase {
    typealias M = ModelMaker
    static let big = Int(Int64.max)

    func expectError(_ m: Onnx_ModelProto, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try M.load(m), file: file, line: line) { e in
            let text = String(describing: e)
            for f in fragments { XCTAssertTrue(text.contains(f), "\(text) lacks \(f)", file: file, line: line) }
        }
    }

    /// With a budget of 1 MB (restored afterwards).
    func withSmallBudget(_ body: () throws -> Void) rethrows {
        let saved = MemoryBudget.bytes
        MemoryBudget.bytes = 1 << 20
        defer { MemoryBudget.bytes = saved }
        try body()
    }

    func ints(_ name: String, _ v: [Int64]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto(); t.name = name; t.dims = [Int64(v.count)]; t.dataType = 7; t.int64Data = v; return t
    }

    func string(_ name: String, _ v: String) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .string; a.s = Data(v.utf8); return a
    }

    func expand(x: [Int64], shape: [Int64]) -> Onnx_ModelProto {
        M.model(nodes: [M.node("Expand", ["x", "shape"], ["y"], name: "grow")], inputs: [M.input("x", x)],
                outputs: ["y"], initializers: [ints("shape", shape)])
    }

    func testExpandRefusesNegativeAndHugeShapes() {
        expectError(expand(x: [1], shape: [-2]), ["node \"grow\" (Expand)", "size -2", "is negative"])
        expectError(expand(x: [1, 1], shape: [Int64.max, 2]), ["node \"grow\" (Expand)", "too large"])
        withSmallBudget {
            expectError(expand(x: [1], shape: [1 << 40]), ["node \"grow\" (Expand)", "more than the budget"])
        }
        // A constant x: the result is made at import.
        let constant = M.model(nodes: [M.node("Expand", ["x", "shape"], ["y"], name: "grow")], inputs: [M.input("u", [1])],
                               outputs: ["y"], initializers: [M.tensor("x", [1], [3]), ints("shape", [-2])])
        expectError(constant, ["node \"grow\" (Expand)", "is negative"])
    }

    func testTileRefusesOverflowingAndHugeRepeats() {
        let constant = M.model(nodes: [M.node("Tile", ["x", "r"], ["y"], name: "tile")], inputs: [M.input("u", [1])],
                               outputs: ["y"], initializers: [M.tensor("x", [2], [1, 2]), ints("r", [Int64.max])])
        expectError(constant, ["node \"tile\" (Tile)", "the tiled shape is too large"])
        let graph = M.model(nodes: [M.node("Tile", ["x", "r"], ["y"], name: "tile")], inputs: [M.input("x", [2])],
                            outputs: ["y"], initializers: [ints("r", [1 << 40])])
        expectError(graph, ["node \"tile\" (Tile)", "more than the 65536 times"])
    }

    /// ConvTranspose of x [1, 1, 3, 3] by a 3x3 kernel with `attributes`.
    func convTranspose(_ attributes: [Onnx_AttributeProto], x: [Int64] = [1, 1, 3, 3], w: [Int64] = [1, 1, 3, 3]) -> Onnx_ModelProto {
        M.model(nodes: [M.node("ConvTranspose", ["x", "w"], ["y"], name: "up", attributes)],
                inputs: [M.input("x", x), M.input("w", w)], outputs: ["y"])
    }

    func testConvTransposeRefusesHugeAttributesAndOverflow() {
        let big = Self.big
        expectError(convTranspose([string("auto_pad", "SAME_UPPER"), M.ints("strides", [big, 1])]),
                    ["node \"up\" (ConvTranspose)", "attribute strides holds \(big)"])
        expectError(convTranspose([M.ints("output_shape", [5, 5]), M.ints("strides", [big, 1])]), ["attribute strides"])
        expectError(convTranspose([M.ints("output_padding", [big, 0])]), ["node \"up\"", "attribute output_padding"])
        expectError(convTranspose([M.ints("output_shape", [Int(Int64.min), 5])]), ["node \"up\"", "attribute output_shape"])
        // Within the limit one by one, the padding's terms overflow together.
        let size: Int64 = 2_147_483_647
        expectError(convTranspose([M.ints("output_shape", [5, 1]), M.ints("strides", [1 << 32, 1]), M.ints("dilations", [1 << 32, 1])],
                                  x: [1, 1, size, 1], w: [1, 1, size, 1]),
                    ["node \"up\" (ConvTranspose)", "the padding of spatial axis 0 is too large to compute"])
    }

    func testConvTranspose3dBoundsTheKernelDepthAndTheOutputDepth() {
        expectError(convTranspose([], x: [1, 1, 2, 2, 2], w: [1, 1, 5000, 1, 1]),
                    ["node \"up\" (ConvTranspose)", "kernel depth 5000 is more than the 4096"])
        expectError(convTranspose([M.ints("strides", [1 << 32, 1, 1]), M.ints("dilations", [1 << 32, 1, 1])],
                                  x: [1, 1, 2_147_483_647, 1, 1], w: [1, 1, 4096, 1, 1]),
                    ["node \"up\" (ConvTranspose)", "the output depth is too large to compute"])
    }

    func testSamePaddingRefusesHugeStridesAndDilations() {
        for key in ["dilations", "strides"] {
            let m = M.model(nodes: [M.node("Conv", ["x", "w"], ["y"], name: "same", [string("auto_pad", "SAME_UPPER"), M.ints(key, [Self.big, 1])])],
                            inputs: [M.input("x", [1, 1, 3, 3])], outputs: ["y"],
                            initializers: [M.tensor("w", [1, 1, 3, 3], [Float](repeating: 1, count: 9))])
            expectError(m, ["node \"same\" (Conv)", "attribute \(key) holds \(Self.big)"])
        }
        let pool = M.model(nodes: [M.node("MaxPool", ["x"], ["y"], name: "pool", [M.ints("kernel_shape", [3]), M.ints("pads", [Self.big, 0])])],
                           inputs: [M.input("x", [1, 1, 3])], outputs: ["y"])
        expectError(pool, ["node \"pool\" (MaxPool)", "attribute pads"])
    }

    /// Pad of x with pads given as an initializer and constant_value as a graph input.
    func pad(x: [Int64], pads: [Int64]) -> Onnx_ModelProto {
        M.model(nodes: [M.node("Pad", ["x", "pads", "v"], ["y"], name: "pad")], inputs: [M.input("x", x), M.input("v", [])],
                outputs: ["y"], initializers: [ints("pads", pads)])
    }

    func testPadBoundsPadsAndMakesAMaskOnlyAsLargeAsTheOutput() throws {
        expectError(pad(x: [2], pads: [Int64.min, Int64.max]), ["node \"pad\" (Pad)", "beyond graphc's limit"])
        let old = M.model(nodes: [M.node("Pad", ["x"], ["y"], name: "pad", [M.ints("pads", [Int(Int64.min), Self.big])])],
                          inputs: [M.input("x", [2])], outputs: ["y"], opset: 10)
        expectError(old, ["node \"pad\" (Pad)", "attribute pads"])
        // An empty output with one axis as long as graphc allows (2^32): the mask costs nothing,
        // so no per-axis table of 2^32 entries is made either. One more is past the IR's limit.
        try withSmallBudget {
            XCTAssertNoThrow(try M.load(pad(x: [0, 1], pads: [0, 0, 0, (1 << 32) - 1])))
        }
        expectError(pad(x: [0, 1], pads: [0, 0, 0, 1 << 32]), ["node \"pad\" (Pad)", "holds more than 4294967296 elements"])
    }

    /// LSTM of X [seq, batch, 1] with hidden size 1, W, R (and `extra` inputs) as graph inputs.
    func lstm(x: [Int64], sequenceLengths: Bool) -> Onnx_ModelProto {
        var inputs = [M.input("X", x), M.input("W", [1, 4, 1]), M.input("R", [1, 4, 1])]
        var names = ["X", "W", "R"]
        if sequenceLengths {
            inputs.append(M.input("lens", [x[1]], elemType: 7))
            names += ["", "lens"]
        }
        return M.model(nodes: [M.node("LSTM", names, ["Y"], name: "rnn")], inputs: inputs, outputs: ["Y"])
    }

    func testLSTMBoundsItsStepsAndCountsItsConstants() {
        expectError(lstm(x: [100_000, 1, 1], sequenceLengths: true), ["node \"rnn\" (LSTM)", "100000 steps is longer than the 65536"])
        withSmallBudget {
            expectError(lstm(x: [1000, 1, 1], sequenceLengths: true), ["node \"rnn\" (LSTM)", "mask_by_length", "more than the budget"])
            expectError(lstm(x: [1, 2_147_483_647, 1], sequenceLengths: false), ["node \"rnn\" (LSTM)", "zero_state", "more than the budget"])
        }
    }
}
