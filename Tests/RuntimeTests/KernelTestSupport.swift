import GraphIR
@testable import Runtime
import XCTest

// Shared by the kernel tests: random data, one-op graphs run through the executor, and
// row-major index arithmetic for the naive references (which accumulate in Double).

/// Feeds for every input of `g`: uniform floats in [-1, 1), and ids in 0..<3 (valid for every
/// table and class count of the models the tests run), every symbolic dimension `size`.
func randomFeeds(_ g: Graph, size: Int, seed: UInt64) -> [String: HostTensor] {
    let random = RandomSource(seed: seed)
    var feeds: [String: HostTensor] = [:]
    for v in g.inputs {
        guard let name = g[v].name else { continue }
        let shape = g[v].fedType.shape.dims.map { $0.value ?? size }, n = shape.reduce(1, *)
        feeds[name] = g[v].type.dtype == .f32 ? HostTensor(shape: shape, floats: (0..<n).map { _ in random.nextFloat() * 2 - 1 })
            : HostTensor(shape: shape, ints: (0..<n).map { _ in Int64(random.nextInt(below: 3)) })
    }
    return feeds
}

/// Deterministic test data.
final class TestData {
    private let random: RandomSource
    init(seed: UInt64) { random = RandomSource(seed: seed) }

    func floats(_ shape: [Int], in range: ClosedRange<Float> = -2...2) -> HostTensor {
        let n = shape.reduce(1, *)
        return HostTensor(shape: shape, floats: (0..<n).map { _ in range.lowerBound + (range.upperBound - range.lowerBound) * random.nextFloat() })
    }

    func ints(_ shape: [Int], below bound: Int) -> HostTensor {
        let n = shape.reduce(1, *)
        return HostTensor(shape: shape, ints: (0..<n).map { _ in Int64(random.nextInt(below: bound)) })
    }
}

/// Builds `op(x0, x1, ...) {attributes}` over inputs of the given tensors' exact shapes, runs
/// it, and returns the result.
func runOp(_ op: OpDef, _ inputs: [HostTensor], _ attributes: Attributes = Attributes(),
           training: Bool = true, seed: UInt64 = 1, threads: Int? = nil) throws -> HostTensor {
    let b = GraphBuilder(name: op.name)
    var feeds: [String: HostTensor] = [:]
    var values: [Value] = []
    for (i, t) in inputs.enumerated() {
        values.append(b.input("x\(i)", TensorType(t.dtype, Shape(known: t.shape))))
        feeds["x\(i)"] = t
    }
    let y = try b.emit(op, values, attributes)
    b.outputs = [("y", y)]
    let g = b.finish()
    let ex = try Executor(graph: g, options: ExecutionOptions(training: training, seed: seed, threads: threads))
    let out = try ex.run(feeds: feeds, parameters: ParameterStore())
    guard let r = out["y"] else { throw RuntimeError("no output") }
    return r
}

func rowMajorStrides(_ shape: [Int]) -> [Int] {
    var s = [Int](repeating: 1, count: shape.count)
    var acc = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) { s[i] = acc; acc *= shape[i] }
    return s
}

func unravel(_ flat: Int, _ shape: [Int]) -> [Int] {
    var rest = flat
    var idx = [Int](repeating: 0, count: shape.count)
    for i in stride(from: shape.count - 1, through: 0, by: -1) { idx[i] = rest % shape[i]; rest /= shape[i] }
    return idx
}

func ravel(_ idx: [Int], _ shape: [Int]) -> Int {
    var flat = 0
    for (i, d) in shape.enumerated() { flat = flat * d + idx[i] }
    return flat
}

/// The element of a tensor of `shape` that numpy broadcasting reads at output index `idx`.
func broadcastIndex(_ idx: [Int], from shape: [Int]) -> Int {
    let off = idx.count - shape.count
    var flat = 0
    for (i, d) in shape.enumerated() { flat = flat * d + (d == 1 ? 0 : idx[i + off]) }
    return flat
}

func assertClose(_ actual: HostTensor, _ expected: [Double], shape: [Int]? = nil, tol: Double = 1e-5,
                 _ what: String = "", file: StaticString = #filePath, line: UInt = #line) {
    if let shape { XCTAssertEqual(actual.shape, shape, "shape \(what)", file: file, line: line) }
    let a = actual.floats
    XCTAssertEqual(a.count, expected.count, "element count \(what)", file: file, line: line)
    var worst = 0.0, at = -1
    for (i, (x, e)) in zip(a, expected).enumerated() {
        let err = abs(Double(x) - e) / max(1, abs(e))
        if !(err <= worst) { worst = err; at = i }
    }
    XCTAssertLessThanOrEqual(worst, tol, "\(what): element \(at) is \(at >= 0 ? a[at] : 0), expected \(at >= 0 ? expected[at] : 0)", file: file, line: line)
}

extension HostTensor {
    var doubles: [Double] { floats.map(Double.init) }
}

/// Runs `body` once per instruction set this CPU has, the C kernels' dispatch limited to it,
/// and restores the best afterwards.
func onEveryISA(_ body: (VectorISA) throws -> Void) rethrows {
    let best = VectorISA.limit(to: nil)
    defer { VectorISA.limit(to: nil) }
    for isa in VectorISA.allCases where isa.rawValue <= best.rawValue {
        XCTAssertEqual(VectorISA.limit(to: isa), isa)
        try body(isa)
    }
}

/// A weight gradient of `count` values made by `run` (given the pool, a fresh workspace and the
/// gradient to fill, NaN beforehand) at 1 and 2 threads: the reference's values at both
/// (within 1e-5 of its largest), the same bits at both, and at one thread a scratch within
/// 5 MB (4 MB of accumulators a chunk, plus copied input planes).
func assertBoundedScratchSameBits(count: Int, want: [Double], file: StaticString = #filePath, line: UInt = #line,
                                  _ run: (WorkerPool, Workspace, UnsafeMutablePointer<Float>) -> Void) {
    let scale = want.map(abs).max() ?? 1
    var bits: [[UInt32]] = []
    for threads in [1, 2] {
        var dw = [Float](repeating: .nan, count: count)
        let workspace = Workspace()
        dw.withUnsafeMutableBufferPointer { run(WorkerPool(threads: threads, tuner: Tuner(mode: .off)), workspace, $0.baseAddress!) }
        if threads == 1 { XCTAssertLessThanOrEqual(workspace.byteCount, 5 << 20, "one chunk's scratch", file: file, line: line) }
        for (g, r) in zip(dw, want) {
            XCTAssertEqual(Double(g), r, accuracy: 1e-5 * max(1, scale), "\(threads) threads", file: file, line: line)
        }
        bits.append(dw.map(\.bitPattern))
    }
    XCTAssertEqual(bits[0], bits[1], "2 threads differ from one", file: file, line: line)
}
