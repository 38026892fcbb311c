import Frontend
import GraphIR
import Passes
@testable import Runtime
import XCTest

/// `slice-products` on the captioning decoders' training graphs: the attention decoder's
/// backward multiplies each step by the context's columns of its input weight only, the
/// embedding's part is one product over the stacked steps, and loss, outputs and every
/// gradient are those of the graph without the pass.
extension FusionEquivalenceTests {
    func testSlicedInputWeightProductsOnDecoders() throws {
        for file in ["caption_attention.swiftgraph", "caption_lstm.swiftgraph"] {
            let (_, training) = try compiled(file)
            // stack-sums first: it stacks the steps' embedding gradients for one embedding_grad.
            let passes = ["stack-sums", "slice-products", "stack-products", "cse", "dce", "verify"]
            let split = try Pipeline(passes).run(training, .checked)
            let w = try XCTUnwrap(training.parameter(named: "decode_step.weight_ih"))
            let whole = { (g: Graph) in g.nodes.filter { $0.op == .matmul && $0.inputs.count == 2 && $0.inputs[1] == w && $0.attributes[.transposeB] != true }.count }
            if file == "caption_attention.swiftgraph" {
                XCTAssertEqual(whole(training), 21, "one product per step by the whole weight before")
                XCTAssertEqual(whole(split), 0, "no step multiplies by the whole weight")
                XCTAssertEqual(split.nodes.filter { $0.op == .matmul && $0.type.rank == 3 && $0.type.shape.dims[0] == .known(21) }.count, 1,
                               "the embedding's gradients: one product over the 21 steps")
            } else {
                // Its cell reads the embedding alone: no product is read through slices.
                let stacked = try Pipeline(["stack-sums"]).run(training, .checked)
                XCTAssertTrue(try Pass.sliceProducts.run(stacked) === stacked, "\(file): nothing to split")
            }
            try assertFusionPreserves(training, size: 2, tol: 1e-4, passes: passes, "\(file) sliced products")
            try assertFusionPreserves(training, size: 3, tol: 1e-4, passes: Pipelines.optimisations.map(\.name),
                                      "\(file) all optimisations")
        }
    }
}
