import CConvKernels
import Foundation
import Frontend
import GraphIR
import Passes
@testable import Runtime
import XCTest

/// `additive_scores_grad_sum` against a plain loop in Double, and bit for bit against the chain
/// of `additive_scores_grad` ops it replaces (the first step alone, then each later one added
/// into the sum in place), over row ranges (how threads split it) and thread counts.
final class AdditiveScoresGradSumTests: XCTestCase {
    let data = TestData(seed: 71)

    /// Widths: a tail after two blocks, one block, below one block, the decoders' 100, several
    /// blocks; one step and several.
    let cases = [(2, 5, 37, 3), (3, 4, 16, 2), (1, 7, 5, 4), (2, 9, 100, 21), (2, 6, 300, 2), (3, 3, 20, 1)]

    func testMatchesALoopInDoubleOnEveryISA() throws {
        try onEveryISA { isa in
            for (batch, regions, width, steps) in cases {
                let enc = data.floats([batch, regions, width]), w = data.floats([1, width])
                let dys = (0..<steps).map { _ in data.floats([batch, regions, 1]) }
                let decs = (0..<steps).map { _ in data.floats([batch, width]) }
                var want = [Double](repeating: 0, count: batch * regions * width)
                for s in 0..<steps {
                    for i in want.indices {
                        let r = i / width, k = i % width, b = r / regions
                        let x = Double(enc.floats[i]) + Double(decs[s].floats[b * width + k])
                        if x > 0 { want[i] += Double(dys[s].floats[r]) * Double(w.floats[k]) }
                    }
                }
                let operands = [enc, w] + zip(dys, decs).flatMap { [$0, $1] }
                for threads in [1, 2] {
                    assertClose(try runOp(.additiveScoresGradSum, operands, threads: threads), want, shape: [batch, regions, width],
                                tol: 1e-5, "B=\(batch) N=\(regions) A=\(width) steps \(steps), \(threads) threads, \(isa)")
                }
            }
        }
    }

    /// additive_scores_weight_grad_sum: within float rounding of a loop in Double, and the bits
    /// of one additive_scores_weight_grad per step added in step order, at 1 and 2 threads.
    func testWeightGradientSumMatchesALoopAndTheChainsBits() throws {
        try onEveryISA { isa in
            for (batch, regions, width, steps) in cases {
                let enc = data.floats([batch, regions, width])
                let dys = (0..<steps).map { _ in data.floats([batch, regions, 1]) }
                let decs = (0..<steps).map { _ in data.floats([batch, width]) }
                var want = [Double](repeating: 0, count: width)
                for s in 0..<steps {
                    for i in 0..<batch * regions * width {
                        let r = i / width, k = i % width, b = r / regions
                        let x = Double(enc.floats[i]) + Double(decs[s].floats[b * width + k])
                        want[k] += Double(dys[s].floats[r]) * max(x, 0)
                    }
                }
                var chain: [Float] = []
                for s in 0..<steps {
                    let term = try runOp(.additiveScoresWeightGrad, [dys[s], enc, decs[s]]).floats
                    chain = s == 0 ? term : zip(chain, term).map { $0 + $1 }
                }
                let operands = [enc] + zip(dys, decs).flatMap { [$0, $1] }
                let what = "B=\(batch) N=\(regions) A=\(width) steps \(steps), \(isa)"
                for threads in [1, 2] {
                    let got = try runOp(.additiveScoresWeightGradSum, operands, threads: threads)
                    assertClose(got, want, shape: [1, width], tol: 1e-5, "\(what), \(threads) threads")
                    XCTAssertEqual(got.floats.map(\.bitPattern), chain.map(\.bitPattern), "\(what), \(threads) threads")
                }
            }
        }
    }

    /// The same bits as the chain, on every ISA, for the whole rows at once and split into
    /// ranges that start and end inside a batch row; with zeros where enc + dec is exactly 0
    /// (relu's test drops them), an infinite and a NaN enc.
    func testSameBitsAsTheChainItReplaces() throws {
        try onEveryISA { isa in
            for (batch, regions, width, steps) in cases {
                let rows = batch * regions, what = "B=\(batch) N=\(regions) A=\(width) steps \(steps), \(isa)"
                var enc = data.floats([rows * width]).floats
                let w = data.floats([width]).floats
                let dys = (0..<steps).map { _ in data.floats([rows]).floats }
                var decs = (0..<steps).map { _ in data.floats([batch * width]).floats }
                decs[0][0] = 0.25
                enc[0] = -0.25
                enc[min(3, enc.count - 1)] = .infinity
                if enc.count > width + 1 { enc[width + 1] = .nan }
                var chain = [Float](repeating: .nan, count: rows * width)
                chain.withUnsafeMutableBufferPointer { o in
                    gc_additive_scores_grad(dys[0], enc, decs[0], w, nil, o.baseAddress, regions, width, 0, rows)
                    for s in 1..<max(steps, 1) {
                        gc_additive_scores_grad(dys[s], enc, decs[s], w, o.baseAddress, o.baseAddress, regions, width, 0, rows)
                    }
                }
                let cut = min(11, rows)
                for ranges in [[(0, rows)], [(0, 3), (3, cut), (cut, rows)]] {
                    var summed = [Float](repeating: .nan, count: rows * width)
                    withPointers(dys) { dyp in
                        withPointers(decs) { decp in
                            for (begin, end) in ranges {
                                gc_additive_scores_grad_sum(dyp, decp, steps, enc, w, &summed, regions, width, begin, end)
                            }
                        }
                    }
                    XCTAssertEqual(summed.map(\.bitPattern), chain.map(\.bitPattern), "\(ranges.count) ranges, \(what)")
                }
            }
        }
    }

    /// The attention decoder's training step with and without the pass: every gradient and the
    /// loss have the same bits, at 1 and 2 threads.
    func testTheAttentionDecodersStepHasTheSameBits() throws {
        let path = FusionEquivalenceTests.repository.appendingPathComponent("graphs/caption_attention.swiftgraph").path
        let model = try Frontend.lower(path: path, options: FrontendOptions(mode: .train))
        let on = PassContext(options: PassOptions())
        let (forward, summed) = try Pipelines.compileForTraining(model, on)
        XCTAssertEqual(on.statistics.first { $0.pass == "attention-grad-sums" }?["attention gradient chains summed"], 2)
        var options = PassOptions()
        options.disabledFusions = [.attentionGradSums]
        let (_, chained) = try Pipelines.compileForTraining(model, PassContext(options: options))
        for op in [OpDef.additiveScoresGradSum, .additiveScoresWeightGradSum] {
            XCTAssertEqual(summed.nodes.filter { $0.op == op }.count, 1, op.name)
            XCTAssertFalse(chained.nodes.contains { $0.op == op }, op.name)
        }
        XCTAssertFalse(summed.nodes.contains { $0.op == .additiveScoresGrad || $0.op == .additiveScoresWeightGrad })
        let store = ParameterStore()
        try store.initialise(from: forward, seed: 5)
        let random = RandomSource(seed: 9)
        var feeds: [String: HostTensor] = [:]
        for v in forward.inputs {
            guard let name = forward[v].name else { continue }
            let shape = forward[v].fedType.shape.dims.map { $0.value ?? 3 }, n = shape.reduce(1, *)
            feeds[name] = forward[v].type.dtype == .f32 ? HostTensor(shape: shape, floats: (0..<n).map { _ in random.nextFloat() * 2 - 1 })
                : HostTensor(shape: shape, ints: (0..<n).map { _ in Int64(random.nextInt(below: 190)) })
        }
        for threads in [1, 2] {
            func step(_ g: Graph) throws -> [String: HostTensor] {
                try Executor(graph: g, options: ExecutionOptions(training: true, seed: 4, threads: threads)).run(feeds: feeds, parameters: store)
            }
            let a = try step(summed), b = try step(chained)
            XCTAssertEqual(Set(a.keys), Set(b.keys))
            for (name, x) in a {
                XCTAssertEqual(x.floats.map(\.bitPattern), b[name]?.floats.map(\.bitPattern), "\(name), \(threads) threads")
            }
        }
    }

    /// The base addresses of `arrays`, as the C kernel takes them.
    func withPointers(_ arrays: [[Float]], _ body: (UnsafePointer<UnsafePointer<Float>?>) -> Void) {
        func nest(_ i: Int, _ done: [UnsafePointer<Float>?]) {
            if i == arrays.count {
                done.withUnsafeBufferPointer { body($0.baseAddress!) }
                return
            }
            arrays[i].withUnsafeBufferPointer { nest(i + 1, done + [$0.baseAddress]) }
        }
        nest(0, [])
    }

    /// The shape rule takes enc, w and pairs of dy and dec, and refuses anything else.
    func testShapeRuleRefusesMismatches() {
        let enc = TensorType.f32(Shape(known: [2, 5, 4])), w = TensorType.f32(Shape(known: [1, 4]))
        let dy = TensorType.f32(Shape(known: [2, 5, 1])), dec = TensorType.f32(Shape(known: [2, 4]))
        XCTAssertEqual(try inferType(.additiveScoresGradSum, [enc, w, dy, dec, dy, dec], [:]), enc)
        XCTAssertThrowsError(try inferType(.additiveScoresGradSum, [enc, w, dy, dec, dy], [:]))
        XCTAssertThrowsError(try inferType(.additiveScoresGradSum, [enc, w, dec, dy], [:]))
        XCTAssertThrowsError(try inferType(.additiveScoresGradSum, [enc, .f32(Shape(known: [4])), dy, dec], [:]))
        XCTAssertThrowsError(try inferType(.additiveScoresGradSum, [enc, w, dy, .f32(Shape(known: [2, 5]))], [:]))
        XCTAssertThrowsError(try inferType(.additiveScoresGradSum, [enc, w, dy, .i64(Shape(known: [2, 4]))], [:]))
    }
}
