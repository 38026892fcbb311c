import GraphIR
import Passes
import XCTest

/// A long unrolled recurrent-like graph (one LSTM-ish cell per step, weights shared by all
/// steps), with optional planted redundancy that each pass must remove exactly:
/// - `duplicates`: every step recomputes its input projection and its output gate;
/// - `dead`: every step computes two values nothing uses;
/// - `identities`: every step multiplies its hidden state by a constant 1 and scales it by 1.
struct UnrolledRecurrentGraph {
    var steps: Int
    var duplicates = false
    var dead = false
    var identities = false

    /// Planted nodes per step, for each kind.
    static let duplicatesPerStep = 2
    static let deadPerStep = 2

    func build() throws -> Graph {
        let b = GraphBuilder(name: "unrolled")
        let B = Dim.symbol("B")
        let xs = b.input("xs", .f32(Shape([B, .known(steps), .known(8)])))
        let wx = b.parameter("cell.wx", .f32([8, 16]), initializer: ["init": .string("uniform"), "bound": .float(0.25)])
        let wh = b.parameter("cell.wh", .f32([16, 16]), initializer: ["init": .string("uniform"), "bound": .float(0.25)])
        let bias = b.parameter("cell.bias", .f32([16]), initializer: ["init": .string("zeros")])
        var h = b.input("h0", .f32(Shape([B, .known(16)])))
        var c = b.input("c0", .f32(Shape([B, .known(16)])))
        let one = identities ? try b.scalar(1) : nil
        for t in 0..<steps {
            b.scope = "step\(t)"
            b.location = SourceLocation(file: "rnn.swiftgraph", line: t + 1, column: 3)
            let x = try b.emit(.select, [xs], ["axis": .int(1), "index": .int(t)])
            let px = try b.emit(.matmul, [x, wx])
            let ph = try b.emit(.matmul, [h, wh])
            let pre = try b.emit(.add, [try b.emit(.add, [px, ph]), bias])
            let gate = try b.emit(.sigmoid, [pre])
            let cand = try b.emit(.tanh, [pre])
            c = try b.emit(.add, [try b.emit(.mul, [gate, c]), try b.emit(.mul, [gate, cand])])
            var out = try b.emit(.sigmoid, [px])
            if duplicates {
                // Recomputed after the real nodes, so removing them leaves the clean order.
                let px2 = try b.emit(.matmul, [x, wx])
                out = try b.emit(.sigmoid, [px2])
            }
            h = try b.emit(.mul, [out, try b.emit(.tanh, [c])])
            if dead {
                _ = try b.emit(.exp, [try b.emit(.neg, [h])])
            }
            if let one {
                h = try b.emit(.scale, [try b.emit(.mul, [h, one])], ["factor": .float(1)])
            }
        }
        b.scope = ""
        b.location = nil
        b.outputs = [("h", h), ("c", c)]
        b.loss = try b.emit(.mean, [h], ["axes": .ints([0, 1])])
        return b.finish()
    }
}

final class RecurrentGraphTests: XCTestCase {
    let steps = 1500

    func testCSEMergesExactlyThePlantedDuplicates() throws {
        let clean = try UnrolledRecurrentGraph(steps: steps).build()
        let planted = try UnrolledRecurrentGraph(steps: steps, duplicates: true).build()
        XCTAssertEqual(planted.nodes.count - clean.nodes.count, steps * UnrolledRecurrentGraph.duplicatesPerStep)
        // The planted copies become dead once merged; then the graph is the clean one, node for node.
        let out = try Pipeline(["cse", "dce"]).run(planted, .checked)
        XCTAssertEqual(IRPrinter.print(out), IRPrinter.print(clean))
        // CSE alone removes exactly the planted duplicates and nothing else.
        XCTAssertEqual(try Pipeline(["cse"]).run(planted, .checked).nodes.count, clean.nodes.count)
        XCTAssertEqual(try Pipeline(["cse"]).run(clean, .checked).nodes.count, clean.nodes.count)
    }

    func testDCERemovesExactlyThePlantedDeadNodes() throws {
        let clean = try UnrolledRecurrentGraph(steps: steps).build()
        let planted = try UnrolledRecurrentGraph(steps: steps, dead: true).build()
        XCTAssertEqual(planted.nodes.count - clean.nodes.count, steps * UnrolledRecurrentGraph.deadPerStep)
        XCTAssertEqual(IRPrinter.print(try Pipeline(["dce"]).run(planted, .checked)), IRPrinter.print(clean))
    }

    func testDefaultPipelineRemovesAllPlantedRedundancy() throws {
        let clean = try UnrolledRecurrentGraph(steps: steps).build()
        let planted = try UnrolledRecurrentGraph(steps: steps, duplicates: true, dead: true, identities: true).build()
        let out = try Pipeline(Pipelines.cleanup).run(planted, .checked)
        XCTAssertEqual(IRPrinter.print(out), IRPrinter.print(clean))
        // And the clean graph is a fixed point.
        XCTAssertEqual(IRPrinter.print(try Pipeline(Pipelines.cleanup).run(clean, .checked)), IRPrinter.print(clean))
    }

    func testLargeGraphRoundTripsThroughText() throws {
        let planted = try UnrolledRecurrentGraph(steps: steps, duplicates: true, dead: true, identities: true).build()
        let text = IRPrinter.print(planted)
        XCTAssertEqual(IRPrinter.print(try IRParser.parse(text, file: "big.gir")), text)
    }
}
