import Foundation
import GraphIR
import Runtime
import XCTest
@testable import ONNX

/// ONNX's LSTM equations in Double, one loop per step, read straight off the operator's
/// definition (gates i, o, f, c in W, R and B; peepholes i, o, f; clip on each gate's input
/// after its peephole term; past a sequence's length the state stays and Y is zero; a reverse
/// direction runs t = seq-1 ... 0). Layout 0 throughout.
struct LSTMReference {
    var seq: Int, batch: Int, input: Int, hidden: Int
    var reversed: [Bool]
    var x: [Float]           // [seq, batch, input]
    var w: [Float], r: [Float]
    var b: [Float]? = nil, p: [Float]? = nil, h0: [Float]? = nil, c0: [Float]? = nil
    var lengths: [Int]? = nil
    var clip: Double? = nil
    var inputForget = false

    /// Y [seq, dirs, batch, H], Y_h and Y_c [dirs, batch, H].
    func run() -> (y: [Double], h: [Double], c: [Double]) {
        let dirs = reversed.count, H = hidden
        var y = [Double](repeating: 0, count: seq * dirs * batch * H)
        var hs = [Double](repeating: 0, count: dirs * batch * H), cs = hs
        func sigmoid(_ v: Double) -> Double { 1 / (1 + exp(-v)) }
        func clipped(_ v: Double) -> Double { clip.map { min(max(v, -$0), $0) } ?? v }
        for d in 0..<dirs {
            for n in 0..<batch {
                var h = (0..<H).map { Double(h0?[(d * batch + n) * H + $0] ?? 0) }
                var c = (0..<H).map { Double(c0?[(d * batch + n) * H + $0] ?? 0) }
                for t in reversed[d] ? Array((0..<seq).reversed()) : Array(0..<seq) {
                    if let lengths, t >= lengths[n] { continue }
                    // Pre-activations of gate block k (0 i, 1 o, 2 f, 3 c) for unit j.
                    func pre(_ k: Int, _ j: Int) -> Double {
                        let row = k * H + j
                        var s = 0.0
                        for i in 0..<input { s += Double(x[(t * batch + n) * input + i]) * Double(w[(d * 4 * H + row) * input + i]) }
                        for i in 0..<H { s += h[i] * Double(r[(d * 4 * H + row) * H + i]) }
                        if let b { s += Double(b[d * 8 * H + row]) + Double(b[d * 8 * H + 4 * H + row]) }
                        return s
                    }
                    func peep(_ k: Int, _ j: Int) -> Double { Double(p?[d * 3 * H + k * H + j] ?? 0) }
                    var newC = c, newH = h
                    for j in 0..<H {
                        let i = sigmoid(clipped(pre(0, j) + peep(0, j) * c[j]))
                        let f = inputForget ? 1 - i : sigmoid(clipped(pre(2, j) + peep(2, j) * c[j]))
                        let g = tanh(clipped(pre(3, j)))
                        newC[j] = f * c[j] + i * g
                        let o = sigmoid(clipped(pre(1, j) + peep(1, j) * newC[j]))
                        newH[j] = o * tanh(newC[j])
                    }
                    h = newH; c = newC
                    for j in 0..<H { y[((t * dirs + d) * batch + n) * H + j] = h[j] }
                }
                for j in 0..<H { hs[(d * batch + n) * H + j] = h[j]; cs[(d * batch + n) * H + j] = c[j] }
            }
        }
        return (y, hs, cs)
    }
}

/// ONNX LSTM nodes imported and run against `LSTMReference`, in every variant the operator has.
final class LSTMImportTests: XCTestCase {
    typealias M = ModelMaker
    var rng = SplitMix(seed: 11)

    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next(_ scale: Float) -> Float {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return (Float(z >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
    }

    func random(_ n: Int, _ scale: Float = 0.5) -> [Float] { (0..<n).map { _ in rng.next(scale) } }

    func string(_ name: String, _ v: String) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .string; a.s = Data(v.utf8); return a
    }

    func strings(_ name: String, _ v: [String]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .strings; a.strings = v.map { Data($0.utf8) }; return a
    }

    func float(_ name: String, _ v: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .float; a.f = v; return a
    }

    /// How an optional input reaches the node.
    enum Given { case absent, input, initializer }

    /// The model and feeds `check` made last.
    var built: (model: Onnx_ModelProto, feeds: [String: HostTensor])?

    /// Builds the node with its inputs as graph inputs or initializers, runs it and compares Y,
    /// Y_h and Y_c (layout 1 transposed back) with the reference.
    @discardableResult
    func check(_ full: LSTMReference, weights: Given = .input, bias: Given = .absent, lengths: Given = .absent,
               states: Given = .absent, peepholes: Given = .absent, batchMajor: Bool = false,
               attributes extra: [Onnx_AttributeProto] = [], file: StaticString = #filePath, line: UInt = #line) throws -> ImportedRun {
        // The reference without the inputs the node is not given.
        var ref = full
        if bias == .absent { ref.b = nil }
        if lengths == .absent { ref.lengths = nil }
        if states == .absent { ref.h0 = nil; ref.c0 = nil }
        if peepholes == .absent { ref.p = nil }
        let dirs = ref.reversed.count, H = ref.hidden, S = ref.seq, N = ref.batch
        var inputs: [Onnx_ValueInfoProto] = [], initializers: [Onnx_TensorProto] = [], feeds: [String: HostTensor] = [:]
        func give(_ name: String, _ shape: [Int], _ values: [Float], _ how: Given) -> String {
            switch how {
            case .absent: return ""
            case .input:
                inputs.append(M.input(name, shape.map { Int64($0) }))
                feeds[name] = HostTensor(shape: shape, floats: values)
            case .initializer: initializers.append(M.tensor(name, shape, values))
            }
            return name
        }
        // Batch-major tensors: [seq, batch, ...] <-> [batch, seq, ...] and [dirs, batch, H] <-> [batch, dirs, H].
        func swap01(_ v: [Float], _ a: Int, _ b: Int, _ inner: Int) -> [Float] {
            var out = v
            for i in 0..<a { for j in 0..<b { for k in 0..<inner { out[(j * a + i) * inner + k] = v[(i * b + j) * inner + k] } } }
            return out
        }
        let x = batchMajor ? give("X", [N, S, ref.input], swap01(ref.x, S, N, ref.input), .input) : give("X", [S, N, ref.input], ref.x, .input)
        let w = give("W", [dirs, 4 * H, ref.input], ref.w, weights), r = give("R", [dirs, 4 * H, H], ref.r, weights)
        let b = give("B", [dirs, 8 * H], ref.b ?? [], bias)
        var l = ""
        if let ls = ref.lengths, lengths != .absent {
            l = "L"
            let t = HostTensor(shape: [N], ints: ls.map { Int64($0) })
            if lengths == .input { inputs.append(M.input(l, [Int64(N)], elemType: 6)); feeds[l] = t } else {
                var p = Onnx_TensorProto(); p.name = l; p.dims = [Int64(N)]; p.dataType = 6; p.int32Data = ls.map { Int32($0) }
                initializers.append(p)
            }
        }
        func state(_ name: String, _ v: [Float]?) -> String {
            guard let v else { return "" }
            return batchMajor ? give(name, [N, dirs, H], swap01(v, dirs, N, H), states) : give(name, [dirs, N, H], v, states)
        }
        let h0 = state("initial_h", ref.h0), c0 = state("initial_c", ref.c0)
        let p = give("P", [dirs, 3 * H], ref.p ?? [], peepholes)
        var attributes = [M.int("hidden_size", H)] + extra
        if ref.reversed == [true] { attributes.append(string("direction", "reverse")) }
        if dirs == 2 { attributes.append(string("direction", "bidirectional")) }
        if batchMajor { attributes.append(M.int("layout", 1)) }
        if let clip = ref.clip { attributes.append(float("clip", Float(clip))) }
        if ref.inputForget { attributes.append(M.int("input_forget", 1)) }
        let node = M.node("LSTM", [x, w, r, b, l, h0, c0, p], ["Y", "Y_h", "Y_c"], name: "lstm", attributes)
        let model = M.model(nodes: [node], inputs: inputs, outputs: ["Y", "Y_h", "Y_c"], initializers: initializers)
        built = (model, feeds)
        let run = try ImportedRun(model: try M.load(model))
        let out = try run.run(feeds)
        let expected = ref.run()
        let (y, yh, yc) = (try XCTUnwrap(out["Y"]), try XCTUnwrap(out["Y_h"]), try XCTUnwrap(out["Y_c"]))
        if batchMajor {
            XCTAssertEqual(y.shape, [N, S, dirs, H], file: file, line: line)
            XCTAssertEqual(yh.shape, [N, dirs, H], file: file, line: line)
            // [batch, seq * dirs, H] swapped is the reference's [seq, dirs, batch, H].
            assertClose(swap01(y.floats, N, S * dirs, H), expected.y, file: file, line: line)
            assertClose(swap01(yh.floats, N, dirs, H), expected.h, file: file, line: line)
            assertClose(swap01(yc.floats, N, dirs, H), expected.c, file: file, line: line)
        } else {
            XCTAssertEqual(y.shape, [S, dirs, N, H], file: file, line: line)
            XCTAssertEqual(yh.shape, [dirs, N, H], file: file, line: line)
            assertClose(y.floats, expected.y, file: file, line: line)
            assertClose(yh.floats, expected.h, file: file, line: line)
            assertClose(yc.floats, expected.c, file: file, line: line)
        }
        return run
    }

    func assertClose(_ got: [Float], _ expected: [Double], file: StaticString = #filePath, line: UInt = #line) {
        assertClose(got.map(Double.init), expected, file: file, line: line)
    }

    func assertClose(_ got: [Double], _ expected: [Double], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, expected.count, file: file, line: line)
        let worst = zip(got, expected).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(worst, 2e-5, "max abs error", file: file, line: line)
    }

    func reference(seq: Int = 4, batch: Int = 3, input: Int = 5, hidden: Int = 3, reversed: [Bool] = [false]) -> LSTMReference {
        let dirs = reversed.count
        return LSTMReference(seq: seq, batch: batch, input: input, hidden: hidden, reversed: reversed,
                             x: random(seq * batch * input, 1.5), w: random(dirs * 4 * hidden * input), r: random(dirs * 4 * hidden * hidden))
    }

    func withEverything(_ ref: LSTMReference) -> LSTMReference {
        var r = ref
        let dirs = r.reversed.count, H = r.hidden
        r.b = random(dirs * 8 * H); r.p = random(dirs * 3 * H)
        r.h0 = random(dirs * r.batch * H); r.c0 = random(dirs * r.batch * H)
        return r
    }

    func testDefaultsWithWeightsAsInputsFuseIntoOneCellPerStep() throws {
        let run = try check(reference())
        XCTAssertEqual(run.graph.nodes.filter { $0.op == .lstmCell }.count, 4)
    }

    func testInitializersBecomeParametersUnderTheirONNXNames() throws {
        var ref = reference()
        ref.b = random(8 * ref.hidden)
        let run = try check(ref, weights: .initializer, bias: .initializer)
        let names = Set(run.model.graph.parameters.compactMap { run.model.graph[$0].name })
        XCTAssertTrue(names.isSuperset(of: ["W", "R", "B"]), "\(names)")
        XCTAssertEqual(run.graph.nodes.filter { $0.op == .lstmCell }.count, 4)
    }

    func testBiasAndInitialStates() throws {
        let ref = withEverything(reference())
        try check(ref, bias: .input, states: .input)
        try check(ref, weights: .initializer, bias: .initializer, states: .initializer)
    }

    func testPeepholes() throws {
        try check(withEverything(reference()), bias: .input, states: .input, peepholes: .input)
        try check(withEverything(reference(reversed: [false, true])), bias: .input, states: .input, peepholes: .initializer)
    }

    func testClipBoundsEveryGateInputWithAndWithoutPeepholes() throws {
        var ref = withEverything(reference(seq: 6))
        ref.x = ref.x.map { $0 * 3 }
        ref.clip = 0.7
        try check(ref, bias: .input, states: .input, peepholes: .input)
        ref.p = nil
        // Without peepholes the clipped gates still make one lstm_cell per step.
        let run = try check(ref, bias: .input, states: .input)
        XCTAssertEqual(run.graph.nodes.filter { $0.op == .lstmCell }.count, 6)
    }

    func testInputForgetCouplesTheForgetGateToTheInputGate() throws {
        var ref = withEverything(reference())
        ref.inputForget = true
        try check(ref, bias: .input, states: .input, peepholes: .input)
    }

    func testReverseAndBidirectional() throws {
        try check(withEverything(reference(reversed: [true])), bias: .input, states: .input)
        try check(withEverything(reference(reversed: [false, true])), bias: .input, states: .input)
        try check(reference(reversed: [false, true]), weights: .initializer)
    }

    func testBatchMajorLayout() throws {
        try check(withEverything(reference(batch: 2)), bias: .input, states: .input, batchMajor: true)
        try check(withEverything(reference(batch: 2, reversed: [false, true])), bias: .input, states: .input, peepholes: .input, batchMajor: true)
    }

    func testSequenceLengthsKeepTheStateAndZeroTheOutputPastEachLength() throws {
        for reversed in [[false], [true], [false, true]] {
            var ref = withEverything(reference(seq: 5, batch: 4, reversed: reversed))
            ref.lengths = [5, 2, 0, 3]
            try check(ref, bias: .input, lengths: .input, states: .input, peepholes: .input)
            try check(ref, bias: .input, lengths: .initializer, states: .input)
        }
    }

    func testFullLengthsKnownAtImportLeaveTheCellsFused() throws {
        var ref = reference(seq: 3)
        ref.lengths = [3, 3, 3]
        let run = try check(ref, lengths: .initializer)
        XCTAssertEqual(run.graph.nodes.filter { $0.op == .lstmCell }.count, 3)
        XCTAssertFalse(run.graph.nodes.contains { $0.op == .embedding })
    }

    func testOtherActivationsAreRefusedNamingTheNode() throws {
        XCTAssertThrowsError(try check(reference(), attributes: [strings("activations", ["Relu", "Tanh", "Tanh"])])) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("node \"lstm\" (LSTM)") && text.contains("activations"), text)
        }
        // The defaults spelled out are accepted.
        try check(reference(reversed: [false, true]), attributes: [strings("activations", ["Sigmoid", "Tanh", "Tanh", "Sigmoid", "Tanh", "Tanh"])])
    }

    func testSequenceLengthsOutOfRangeAreRefused() throws {
        var ref = reference(seq: 3)
        ref.lengths = [3, 4, 1]
        XCTAssertThrowsError(try check(ref, lengths: .initializer)) { e in
            XCTAssertTrue("\(e)".contains("sequence_lens holds 4"), "\(e)")
        }
        // Given at run time, a length without a row in the mask table is refused by the lookup.
        XCTAssertThrowsError(try check(ref, lengths: .input))
    }

    func testExportedAndImportedAgainGivesTheSameOutputs() throws {
        var ref = withEverything(reference(seq: 4, batch: 3, reversed: [false, true]))
        ref.lengths = [4, 1, 2]
        // Lengths known at import: the mask is a constant, whose Cast to bool the importer folds
        // (a float Cast at run time it does not read).
        let first = try check(ref, bias: .initializer, lengths: .initializer, states: .input, peepholes: .initializer)
        let (_, feeds) = try XCTUnwrap(built)
        let store = ParameterStore()
        try first.model.initialise(store, for: first.model.graph)
        let exported: Data = try ONNXExport.model(first.model.graph, parameters: store).serializedBytes()
        let again = try ImportedRun(model: try ONNXModel.load(data: exported, file: "lstm.onnx", folder: "."))
        let (a, b) = (try first.run(feeds), try again.run(feeds))
        for name in ["Y", "Y_h", "Y_c"] {
            XCTAssertEqual(a[name]?.shape, b[name]?.shape, name)
            XCTAssertLessThanOrEqual(maxAbsDifference(try XCTUnwrap(a[name]), try XCTUnwrap(b[name])), 1e-6, name)
        }
    }
}
