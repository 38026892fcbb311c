import Foundation
import GraphIR
import Passes
@testable import Runtime
import XCTest

/// A model compiled with the attention-context pass trains as one compiled without it (same
/// loss, outputs and gradients): features that need a gradient (a projection of the input),
/// the product and the sum forms (with and without keepdims), regions masked with -inf and a
/// row masked whole (NaN in both), batches of 1 and more, at 1 and 2 threads, sizes off the
/// 16-lane blocks.
final class AttentionContextEquivalenceTests: XCTestCase {
    /// softmax(s * ws + mask) · tanh(x · wf), as a product or a sum, with a weighted sum as the loss.
    func graph(_ n: Int, _ d: Int, sumForm: Bool, keepdims: Bool) throws -> Graph {
        let product = sumForm
            ? """
              %pm = mul(%ft, %w) : f32[B,\(n),\(d)]
              %p = sum(%pm) {axes=[1], keepdims=\(keepdims)}
            """
            : """
              %p = matmul(%w, %ft) {transpose_a=true} : f32[B,1,\(d)]
            """
        // The sum without keepdims is [B, D] already: a tanh reads it instead of a reshape.
        let flat = (sumForm && !keepdims) ? "%c = tanh(%p)" : "%c = reshape(%p) {shape=shape[B,\(d)]}"
        return try IRParser.parse("""
        graph @g {
          %x = input() {name="x"} : f32[B,\(n),5]
          %s0 = input() {name="s"} : f32[B,\(n)]
          %m = input() {name="mask"} : f32[B,\(n)]
          %t = input() {name="t"} : f32[B,\(d)]
          %wf = param() {name="wf", init="uniform", bound=0.7} : f32[5,\(d)]
          %ws = param() {name="ws", init="uniform", bound=0.7} : f32[\(n)]
          %f = matmul(%x, %wf)
          %ft = tanh(%f)
          %s1 = mul(%s0, %ws)
          %s = add(%s1, %m)
          %a = softmax(%s) {axis=1}
          %w = reshape(%a) {shape=shape[B,\(n),1]}
        \(product)
          \(flat)
          %ct = mul(%c, %t)
          %l = sum(%ct) {axes=[0,1], keepdims=false}
          output "c" = %c
          loss = %l
        }
        """, file: "attention.gir", types: .inferAndCheck)
    }

    func testWithAndWithoutThePassAgree() throws {
        for (n, d) in [(17, 33), (1, 1), (3, 130)] {
            for form in [(false, false), (true, false), (true, true)] {
                let g = try graph(n, d, sumForm: form.0, keepdims: form.1)
                let on = PassContext(options: PassOptions(verifyEach: true))
                var offOptions = PassOptions(verifyEach: true)
                offOptions.disabledFusions = [.attentionContext]
                let (_, a) = try Pipelines.compileForTraining(g, on)
                let (_, b) = try Pipelines.compileForTraining(g, PassContext(options: offOptions))
                XCTAssertTrue(a.nodes.contains { $0.op == .attentionContext }, "\(n) \(d) \(form) fired")
                XCTAssertFalse(b.nodes.contains { $0.op == .attentionContext })
                XCTAssertEqual(a.gradientOutputs.map(\.name).sorted(), b.gradientOutputs.map(\.name).sorted())
                XCTAssertEqual(a.gradientOutputs.count, 2, "the gradients of wf (through the features) and ws")
                let store = ParameterStore()
                try store.initialise(from: a, seed: 3)
                for batch in [1, 3, 2] {
                    let r = RandomSource(seed: UInt64(batch))
                    func rnd(_ shape: [Int]) -> HostTensor {
                        HostTensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in r.nextFloat() * 2 - 1 })
                    }
                    var mask = [Float](repeating: 0, count: batch * n)
                    // Every other region masked (-inf); with batch 2 a whole row too: NaN in both graphs, from
                    // its context on (the loss and so every gradient), which must be NaN in the same places.
                    for b in 0..<batch { for k in stride(from: 1, to: n, by: 2) { mask[b * n + k] = -.infinity } }
                    if batch == 2 { for k in 0..<n { mask[1 * n + k] = -.infinity } }
                    let feeds = ["x": rnd([batch, n, 5]), "s": rnd([batch, n]), "t": rnd([batch, d]),
                                 "mask": HostTensor(shape: [batch, n], floats: mask)]
                    for threads in [1, 2] {
                        let ra = try Executor(graph: a, options: ExecutionOptions(training: true, seed: 5, threads: threads)).run(feeds: feeds, parameters: store)
                        let rb = try Executor(graph: b, options: ExecutionOptions(training: true, seed: 5, threads: threads)).run(feeds: feeds, parameters: store)
                        XCTAssertEqual(Set(ra.keys), Set(rb.keys))
                        for (name, x) in rb {
                            guard let y = ra[name] else { continue }
                            XCTAssertEqual(x.shape, y.shape)
                            for (i, (p, q)) in zip(x.floats, y.floats).enumerated() {
                                if p.isNaN || q.isNaN {
                                    XCTAssertTrue(p.isNaN && q.isNaN, "\(n) \(d) \(form) B=\(batch) t=\(threads) \(name)[\(i)] \(p) vs \(q)")
                                } else {
                                    XCTAssertEqual(p, q, accuracy: 1e-5 * max(1, abs(p)), "\(n) \(d) \(form) B=\(batch) t=\(threads) \(name)[\(i)]")
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
