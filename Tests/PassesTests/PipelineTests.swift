import GraphIR
import Passes
import XCTest

final class PipelineTests: XCTestCase {
    func testRegistryListsEveryPassOnceAndResolvesNames() throws {
        let names = PassRegistry.all.map(\.name)
        XCTAssertEqual(Set(names).count, names.count)
        XCTAssertTrue(Set(names).isSuperset(of: ["verify", "shape-inference", "constant-folding", "cse", "dce", "count-params", "set-dropout", "autodiff", "drop-gradients", "contract", "stack-products", "stack-sums", "hoist", "fusion", "memory-plan"]), "\(names)")
        for p in PassRegistry.all {
            XCTAssertEqual(PassRegistry.named(p.name)?.name, p.name)
            XCTAssertFalse(p.summary.isEmpty)
        }
        XCTAssertNil(PassRegistry.named("inline"))
        XCTAssertEqual(try Pipeline(Pipelines.cleanup.map(\.name)).names, Pipelines.cleanup.map(\.name))
    }

    func testUnknownPassListsKnownOnes() {
        let m = errorMessage { _ = try Pipeline(["verify", "no-such-pass"]) }
        assertContains(m, ["unknown pass 'no-such-pass'"] + PassRegistry.all.map(\.name))
    }

    func testReportsEachPassWithItsResultAndTime() throws {
        let g = try parseIR("""
        graph @g {
          %x = input() {name="x"} : f32[4]
          %a = exp(%x)
          %b = exp(%x)
          output "a" = %a
        }
        """)
        var seen: [(String, Int, Duration)] = []
        let out = try Pipeline(["cse", "dce", "verify"]).run(g, .checked) { pass, graph, time in
            seen.append((pass.name, graph.nodes.count, time))
        }
        XCTAssertEqual(seen.map(\.0), ["cse", "dce", "verify"])
        XCTAssertEqual(seen.map(\.1), [2, 2, 2])
        XCTAssertTrue(seen.allSatisfy { $0.2 >= .zero })
        XCTAssertEqual(out.nodes.count, 2)
        XCTAssertEqual(g.nodes.count, 3, "passes leave their input graph alone")
    }
}

final class ParameterCountTests: XCTestCase {
    /// The Fashion-MNIST CNN of the homework: 769,930 parameters.
    func testHomeworkCNNCount() throws {
        let b = GraphBuilder(name: "cnn")
        let shapes: [(String, Shape)] = [
            ("conv1.weight", [16, 1, 3, 3]), ("conv1.bias", [16]),
            ("conv2.weight", [32, 16, 3, 3]), ("conv2.bias", [32]),
            ("fc1.weight", [600, 1152]), ("fc1.bias", [600]),
            ("fc2.weight", [120, 600]), ("fc2.bias", [120]),
            ("fc3.weight", [10, 120]), ("fc3.bias", [10]),
        ]
        for (name, shape) in shapes { _ = b.parameter(name, .f32(shape), initializer: ["init": .string("zeros")]) }
        let g = b.finish()
        let rep = ParameterCount.report(g)
        XCTAssertEqual(rep.total, 769_930)
        XCTAssertEqual(rep.trainable, 769_930)
        XCTAssertEqual(rep.nonTrainable, 0)
        XCTAssertEqual(rep.buffers, 0)
        XCTAssertEqual(rep.rows.map(\.count), [144, 16, 4608, 32, 691_200, 600, 72_000, 120, 1200, 10])
    }

    func testBuffersAndFrozenWeightsAndTheCountParamsPass() throws {
        let g = try parseIR("""
        graph @g {
          %x = input() {name="x"} : f32[B,4]
          %w = param() {name="fc.weight", init="zeros"} : f32[10,4]
          %b = param() {name="fc.bias", init="zeros", trainable=false} : f32[10]
          %m = param() {name="bn.running_mean", init="zeros", buffer=true} : f32[3]
          meta {dataset="fashionMNIST"}
        }
        """)
        let rep = ParameterCount.report(g)
        XCTAssertEqual(rep.rows.map(\.name), ["fc.weight", "fc.bias", "bn.running_mean"])
        XCTAssertEqual(rep.rows.map(\.trainable), [true, false, false])
        XCTAssertEqual(rep.rows.map(\.buffer), [false, false, true])
        XCTAssertEqual(rep.rows.map(\.shape), [[10, 4], [10], [3]])
        XCTAssertEqual([rep.total, rep.trainable, rep.nonTrainable, rep.buffers], [50, 40, 10, 3])

        let out = try Pipeline(["count-params"]).run(g, .checked)
        XCTAssertEqual(IRPrinter.print(out), IRPrinter.print(g).replacingOccurrences(
            of: "meta {dataset=\"fashionMNIST\"}", with: "meta {dataset=\"fashionMNIST\", param_count=50, trainable_params=40}"))
        XCTAssertNil(g.metadata.int("param_count"), "the input graph is not modified")
    }
}
