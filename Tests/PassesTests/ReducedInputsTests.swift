import Frontend
import GraphIR
import Passes
import XCTest

/// `reduced-inputs`: an input read only through the same mean (or sum) over non-batch axes is
/// declared taken reduced, and the reduction node is gone; anything else leaves it alone.
final class ReducedInputsTests: XCTestCase {
    func testInputReadOnlyThroughItsMeanIsTakenReduced() throws {
        let out = try runPasses("""
        graph @g {
          %f = input() {name="features"} : f32[B,6,4]
          %w = param() {name="w"} : f32[3,4]
          %m = mean(%f) {axes=[-2]} : f32[B,4]
          %m2 = mean(%f) {axes=[1]} : f32[B,4]
          %h = matmul(%m, %w) {transpose_b=true} : f32[B,3]
          %c = matmul(%m2, %w) {transpose_b=true} : f32[B,3]
          output "h" = %h
          output "c" = %c
        }
        """, ["reduced-inputs", "verify"])
        assertFileCheck(out, """
        // CHECK: %[[F:[0-9]+]] = input() {name="features", fed=shape[B,6,4], reduce="mean", axes=[1]} : f32[B,4]
        // CHECK-NEXT: %[[W:[0-9]+]] = param() {name="w"}
        // CHECK-NEXT: matmul(%[[F]], %[[W]]) {transpose_b=true} : f32[B,3]
        // CHECK-NEXT: matmul(%[[F]], %[[W]]) {transpose_b=true} : f32[B,3]
        // CHECK-NOT: mean(
        """)
        // The printed IR reads back as the same graph, and the pass finds nothing left to do.
        let reparsed = try parseIR(out)
        XCTAssertEqual(IRPrinter.print(reparsed), out)
        XCTAssertTrue(try Pass.reducedInputs.run(reparsed) === reparsed)
        let f = try XCTUnwrap(reparsed.input(named: "features"))
        XCTAssertEqual(reparsed[f].fedType, .f32(Shape([.symbol("B"), .known(6), .known(4)])))
        XCTAssertEqual(try FeedReduction.of(reparsed[f]), FeedReduction(fed: reparsed[f].fedType, mean: true, axes: [1]))
    }

    /// Sums over two axes with keepdims: the input keeps the 1s.
    func testSumsWithKeptAxes() throws {
        let out = try runPasses("""
        graph @g {
          %x = input() {name="x"} : f32[B,2,3,5]
          %s = sum(%x) {axes=[1,2], keepdims=true} : f32[B,1,1,5]
          output "s" = %s
        }
        """, ["reduced-inputs", "verify"])
        assertFileCheck(out, """
        // CHECK: %0 = input() {name="x", fed=shape[B,2,3,5], reduce="sum", axes=[1,2], keepdims=true} : f32[B,1,1,5]
        // CHECK-NEXT: output "s" = %0
        """)
    }

    /// Left alone: an input read by anything but its reduction, two different reductions,
    /// a reduction over the batch axis, an input that is an output, an i64 input, and any
    /// input when the kind is turned off.
    func testInputsTheRewriteCannotTakeAreLeftAlone() throws {
        let cases = [
            ("%m = mean(%x) {axes=[1]} : f32[B,4]\n  %r = relu(%x) : f32[B,6,4]", "output \"r\" = %r"),
            ("%m = mean(%x) {axes=[1]} : f32[B,4]\n  %s = sum(%x) {axes=[1]} : f32[B,4]", "output \"s\" = %s"),
            ("%m = mean(%x) {axes=[1]} : f32[B,4]\n  %n = mean(%x) {axes=[1], keepdims=true} : f32[B,1,4]", "output \"n\" = %n"),
            ("%m = mean(%x) {axes=[0,1]} : f32[4]", ""),
            ("%m = mean(%x) {axes=[1]} : f32[B,4]", "output \"x\" = %x"),
        ]
        for (body, extra) in cases {
            let g = try parseIR("""
            graph @g {
              %x = input() {name="x"} : f32[B,6,4]
              \(body)
              output "m" = %m
              \(extra)
            }
            """)
            XCTAssertTrue(try Pass.reducedInputs.run(g, .checked) === g, body)
        }
        let ids = try parseIR("""
        graph @g {
          %x = input() {name="x"} : i64[B,6]
          %t = param() {name="t"} : f32[9,4]
          %e = embedding(%x, %t) : f32[B,6,4]
          %m = mean(%e) {axes=[1]} : f32[B,4]
          output "m" = %m
        }
        """)
        XCTAssertTrue(try Pass.reducedInputs.run(ids, .checked) === ids)
        let plain = try parseIR("""
        graph @g {
          %x = input() {name="x"} : f32[B,6,4]
          %m = mean(%x) {axes=[1]} : f32[B,4]
          output "m" = %m
        }
        """)
        var options = PassOptions()
        options.disabledFusions = [.reducedInputs]
        XCTAssertTrue(try Pass.reducedInputs.run(plain, PassContext(options: options)) === plain)
        let on = PassContext.checked
        _ = try Pipeline(["reduced-inputs"]).run(plain, on)
        XCTAssertEqual(on.statistics.first { $0.pass == "reduced-inputs" }?[FusionKind.reducedInputs.counter], 1)
        XCTAssertEqual(FusionKind.reducedInputs.pass, "reduced-inputs")
    }

    /// The verifier refuses reduction attributes that do not fit the input's type.
    func testVerifierRefusesInconsistentReductions() throws {
        func refused(_ attributes: String, _ type: String, _ part: String) {
            let message = errorMessage {
                _ = try Pass.verify.run(try parseIR("""
                graph @g {
                  %x = input() {name="x", \(attributes)} : \(type)
                  output "x" = %x
                }
                """))
            }
            XCTAssertTrue(message.contains(part), "'\(part)' not in: \(message)")
        }
        refused("fed=shape[B,6,4], reduce=\"mean\", axes=[1]", "f32[B,6]", "is f32[B,4], not f32[B,6]")
        refused("fed=shape[B,6,4], reduce=\"mean\"", "f32[B,4]", "needs 'fed', 'reduce' and 'axes' together")
        refused("fed=shape[B,6,4], reduce=\"mean\", axes=[0]", "f32[6,4]", "axis 0 is the batch")
        refused("fed=shape[B,6,4], reduce=\"mean\", axes=[2,1]", "f32[B]", "distinct increasing axes")
        refused("fed=shape[B,6,4], reduce=\"mean\", axes=[1]", "i64[B,4]", "must be f32")
        // A -1 (which `shape[...]` reads, for reshape) on a reduced axis leaves the type
        // consistent but the fed size negative: synthetic feeds and --bench would allocate it.
        refused("fed=shape[B,-1,4], reduce=\"mean\", axes=[1]", "f32[B,4]", "a fed shape of sizes")
        let bad = errorMessage {
            _ = try parseIR("""
            graph @g {
              %x = input() {name="x", fed=shape[B,6,4], reduce="max", axes=[1]} : f32[B,4]
              output "x" = %x
            }
            """)
        }
        XCTAssertTrue(bad.contains("reduce"), bad)
    }

    /// The vanilla decoder's features are taken as their mean in the training, evaluation and
    /// inference graphs; the attention decoder reads them whole and keeps them.
    func testCaptionDecodersFeatures() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        func features(_ file: String, _ mode: Mode) throws -> [Graph] {
            let lowered = try Frontend.lower(path: repository.appendingPathComponent("graphs/" + file).path, options: FrontendOptions(mode: mode))
            if mode == .infer { return [try Pipelines.compileForInference(lowered, .checked)] }
            let (forward, training) = try Pipelines.compileForTraining(lowered, .checked)
            return [forward, training]
        }
        for mode in [Mode.train, .infer] {
            for g in try features("caption_lstm.swiftgraph", mode) {
                let f = try XCTUnwrap(g.input(named: "features"))
                XCTAssertEqual(g[f].type, .f32(Shape([.symbol("B"), .known(512)])), "\(mode)")
                XCTAssertEqual(g[f].fedType, .f32(Shape([.symbol("B"), .known(256), .known(512)])))
                XCTAssertFalse(g.nodes.contains { $0.op == .mean }, "\(mode)")
            }
            for g in try features("caption_attention.swiftgraph", mode) {
                let f = try XCTUnwrap(g.input(named: "features"))
                XCTAssertEqual(g[f].type, g[f].fedType, "\(mode): the attention decoder reads every region")
                XCTAssertNil(try FeedReduction.of(g[f]))
            }
        }
    }
}
