import GraphIR
import Foundation
import XCTest
@testable import Frontend

/// The graphs in graphs/: PyTorch state_dict names, shapes, unrolling with shared weights,
/// both modes, and that every file is valid Swift syntax.
final class GraphFileTests: XCTestCase {
    /// Every .swiftgraph file in graphs/, so a new graph is checked without editing this list.
    static let all: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "\(Fixtures.repo)/graphs")) ?? []
        return names.filter { $0.hasSuffix(".swiftgraph") }.map { String($0.dropLast(".swiftgraph".count)) }.sorted()
    }()

    func testAllHomeworkGraphsAreFound() {
        for name in ["q1_cnn", "q1_mlp", "q1_attention", "cnn", "caption_lstm", "caption_attention", "resnet18"] {
            XCTAssertTrue(Self.all.contains(name), name)
        }
    }

    func testCNNNamesAndShapes() throws {
        let (g, rows) = try Fixtures.lower("cnn")
        XCTAssertEqual(g.parameterNames, ["convblock1.0.weight", "convblock1.0.bias", "convblock2.0.weight", "convblock2.0.bias",
                                          "head.1.weight", "head.1.bias", "head.4.weight", "head.4.bias", "head.6.weight", "head.6.bias"])
        XCTAssertEqual(g.parameterType("head.1.weight")?.description, "f32[600,1152]")
        XCTAssertEqual(g.parameterType("convblock1.0.weight")?.description, "f32[16,1,3,3]")
        XCTAssertEqual(g.output(named: "logProbs").map { g.type(of: $0).description }, "f32[B,10]")
        XCTAssertEqual(g.loss.map { g[$0].op.name }, "nll_loss")
        // PyTorch's default init: uniform with bound 1/sqrt(fan_in).
        let w = try XCTUnwrap(g.parameter(named: "head.1.weight"))
        XCTAssertEqual(g[w].attributes.string("init"), "uniform")
        XCTAssertEqual(try XCTUnwrap(g[w].attributes.float("bound")), 1 / Double(1152).squareRoot(), accuracy: 1e-12)
        let c = try XCTUnwrap(g.parameter(named: "convblock1.0.weight"))
        XCTAssertEqual(try XCTUnwrap(g[c].attributes.float("bound")), 1 / 3.0, accuracy: 1e-12)
        // Metadata keys are stable snake_case.
        XCTAssertEqual(g.metadata.string("dataset"), "fashionMNIST")
        XCTAssertEqual(g.metadata.string("metric"), "accuracy")
        XCTAssertEqual(g.metadata.int("epochs"), 15)
        XCTAssertEqual(g.metadata.int("batch_size"), 8)
        XCTAssertEqual(g.metadata.float("lr"), 0.01)
        XCTAssertEqual(g.metadata.string("optimizer"), "sgd")
        XCTAssertEqual(g.metadata.string("mode"), "train")
        // One summary row per module, in call order, with output shapes and own parameters.
        XCTAssertEqual(rows.map(\.name), ["convblock1", "convblock1.0", "convblock1.1", "convblock1.2", "convblock2", "convblock2.0",
                                          "convblock2.1", "convblock2.2", "head", "head.0", "head.1", "head.2", "head.3", "head.4",
                                          "head.5", "head.6", "head.7"])
        XCTAssertEqual(rows[1].type, "Conv2d")
        XCTAssertEqual(rows[1].outputShape.description, "[B,16,28,28]")
        XCTAssertEqual(rows[1].parameters, 160)
        XCTAssertEqual(rows[10].parameters, 691_800)
        XCTAssertEqual(rows[0].parameters, 0)
        XCTAssertEqual(rows[0].outputShape.description, "[B,16,14,14]")
        // Dropout lowers to x * dropout_mask(x) in training.
        let mask = try XCTUnwrap(g.nodes.firstIndex { $0.op.name == "dropout_mask" })
        XCTAssertEqual(g.nodes[mask].attributes.float("p"), 0.3)
        XCTAssertEqual(g.nodes[mask].scope, "head.3")
        // Kernels get non-negative axes: LogSoftmax's default -1 is axis 1 of [B,10].
        XCTAssertEqual(g.nodes.first { $0.op.name == "log_softmax" }?.attributes.int("axis"), 1)
    }

    func testNodesCarryLocationsAndScopes() throws {
        let (g, _) = try Fixtures.lower("cnn")
        for n in g.nodes {
            XCTAssertNotNil(n.location, "\(n.op.name) has no location")
            XCTAssertEqual(n.location?.file, Fixtures.graphPath("cnn"))
        }
        // The conv of convblock1 points at `Conv2d(16, ...)` on line 7.
        let conv = try XCTUnwrap(g.nodes.first { $0.op.name == "conv2d" })
        XCTAssertEqual(conv.scope, "convblock1.0")
        XCTAssertEqual(conv.location?.line, 7)
        XCTAssertEqual(conv.location?.column, 5)
    }

    func testCaptionNames() throws {
        for name in ["caption_lstm", "caption_attention"] {
            let (g, _) = try Fixtures.lower(name)
            let names = Set(g.parameterNames)
            for expected in ["embedding.weight", "decode_step.weight_ih", "decode_step.weight_hh", "decode_step.bias_ih",
                             "decode_step.bias_hh", "init_h.weight", "init_h.bias", "init_c.weight", "init_c.bias", "fc.weight", "fc.bias"] {
                XCTAssertTrue(names.contains(expected), "\(name) lacks \(expected): \(names.sorted())")
            }
            XCTAssertEqual(g.parameterType("decode_step.weight_hh")?.description, "f32[1024,256]")
            // The file overrides PyTorch's defaults as the original decoder does.
            let fcw = try XCTUnwrap(g.parameter(named: "fc.weight")), fcb = try XCTUnwrap(g.parameter(named: "fc.bias"))
            XCTAssertEqual(g[fcw].attributes.float("bound"), 0.1)
            XCTAssertEqual(g[fcb].attributes.string("init"), "zeros")
            let emb = try XCTUnwrap(g.parameter(named: "embedding.weight"))
            XCTAssertEqual(g[emb].attributes.string("init"), "uniform")
            let ih = try XCTUnwrap(g.parameter(named: "decode_step.weight_ih"))
            XCTAssertEqual(g[ih].attributes.float("bound"), 1 / 16.0)
            XCTAssertEqual(g.metadata.string("optimizer"), "adam")
            XCTAssertEqual(g.metadata.float("grad_clip"), 5)
            XCTAssertEqual(g.metadata.float("lr"), 4e-4)
        }
        let (g, _) = try Fixtures.lower("caption_attention")
        XCTAssertEqual(g.parameterType("decode_step.weight_ih")?.description, "f32[1024,612]")
        for n in ["attention.encoder_att.weight", "attention.encoder_att.bias", "attention.decoder_att.weight",
                  "attention.full_att.weight", "attention.full_att.bias"] {
            XCTAssertNotNil(g.parameter(named: n), n)
        }
        XCTAssertEqual(g.parameterType("attention.full_att.weight")?.description, "f32[1,100]")
    }

    func testCaptionTrainingGraph() throws {
        let (g, _) = try Fixtures.lower("caption_attention")
        XCTAssertEqual(g.output(named: "scores").map { g.type(of: $0).description }, "f32[B,21,190]")
        let loss = try XCTUnwrap(g.loss)
        XCTAssertEqual(g[loss].op.name, "nll_loss")
        XCTAssertEqual(g[loss].attributes.int("ignore_index"), 0)
        XCTAssertEqual(g.type(of: g[loss].inputs[1]).description, "i64[B,21]")
        XCTAssertEqual(g[g[loss].inputs[0]].op.name, "log_softmax")
        // Teacher forcing: 21 steps, each with its own embedding lookup of the caption.
        XCTAssertEqual(g.nodes.filter { $0.op.name == "embedding" }.count, 21)
        XCTAssertEqual(g.nodes.filter { $0.op.name == "dropout_mask" }.count, 21)
        XCTAssertEqual(g.nodes.filter { $0.op.name == "argmax" }.count, 0)
        // encoder_att(features) is computed once and shared by the 21 steps; decoder_att runs per step.
        XCTAssertEqual(g.nodes.filter { $0.scope == "attention.encoder_att" && $0.op.name == "matmul" }.count, 1)
        XCTAssertEqual(g.nodes.filter { $0.scope == "attention.decoder_att" && $0.op.name == "matmul" }.count, 21)
        XCTAssertEqual(g.nodes.filter { $0.op.name == "softmax" }.count, 21)
        XCTAssertEqual(Set(g.nodes.filter { $0.op.name == "concat" }.compactMap { $0.attributes.int("axis") }), [1])
        XCTAssertEqual(g[g[loss].inputs[0]].attributes.int("axis"), 2)
    }

    func testCaptionInferenceGraph() throws {
        for name in ["caption_lstm", "caption_attention"] {
            let (g, _) = try Fixtures.lower(name, mode: .infer)
            XCTAssertNil(g.loss)
            XCTAssertEqual(g.metadata.string("mode"), "infer")
            XCTAssertNil(g.input(named: "captions"))
            XCTAssertEqual(g.input(named: "start").map { g.type(of: $0).description }, "i64[B]")
            XCTAssertEqual(g.output(named: "words").map { g.type(of: $0).description }, "i64[B,22]")
            // Greedy decoding: each step's argmax feeds the next step's embedding.
            let argmaxes = g.values.filter { g[$0].op.name == "argmax" }
            XCTAssertEqual(argmaxes.count, 22)
            let lookups = g.values.filter { g[$0].op.name == "embedding" }
            XCTAssertEqual(lookups.count, 22)
            for (i, e) in lookups.enumerated().dropFirst() { XCTAssertEqual(g[e].inputs[0], argmaxes[i - 1]) }
            XCTAssertEqual(g.nodes.filter { $0.op.name == "dropout_mask" }.count, 0, "dropout is the identity in .infer")
        }
        let (g, _) = try Fixtures.lower("caption_attention", mode: .infer)
        XCTAssertEqual(g.output(named: "alphas").map { g.type(of: $0).description }, "f32[B,22,256]")
    }

    /// The unrolled loop shares one set of weights: 1 step and 22 steps have the same count.
    func testUnrollingSharesParameters() throws {
        let source = try Fixtures.source("caption_attention")
        XCTAssertTrue(source.contains("maxLen = 22"))
        var counts: [Int] = []
        var paramNodes: [Int] = []
        for len in [2, 22, 50] {
            let g = try Frontend.lower(source: source.replacingOccurrences(of: "maxLen = 22", with: "maxLen = \(len)"), file: "c.swiftgraph")
            counts.append(g.trainableCount)
            paramNodes.append(g.parameters.count)
            XCTAssertEqual(g.output(named: "scores").map { g.type(of: $0).shape[1] }, .known(len - 1))
        }
        XCTAssertEqual(counts, [1_298_467, 1_298_467, 1_298_467])
        XCTAssertEqual(paramNodes[0], paramNodes[1])
        XCTAssertEqual(paramNodes[1], paramNodes[2])
    }

    /// A long unroll lowers to a graph linear in its steps: every step adds the same number of
    /// nodes (counted at three lengths, never timed), and 2,000 steps lower with the types and
    /// parameters of 21.
    func testLongUnrollGrowsLinearlyInItsSteps() throws {
        func lowered(_ steps: Int) throws -> Graph {
            let source = try Fixtures.source("caption_attention").replacingOccurrences(of: "maxLen = 22", with: "maxLen = \(steps + 1)")
            return try Frontend.lower(source: source, file: "long\(steps).swiftgraph")
        }
        let (a, b, c) = (try lowered(21).nodes.count, try lowered(121).nodes.count, try lowered(221).nodes.count)
        XCTAssertEqual(c - b, b - a, "each step adds the same nodes: \(a), \(b), \(c) nodes for 21, 121, 221 steps")
        let g = try lowered(2000)
        XCTAssertEqual(g.nodes.count, a + (b - a) / 100 * (2000 - 21), "2,000 steps: the same nodes per step")
        XCTAssertEqual(g.trainableCount, 1_298_467)
        XCTAssertEqual(g.output(named: "scores").map { g.type(of: $0).description }, "f32[B,2000,190]")
    }

    func testResNetNames() throws {
        let (g, rows) = try Fixtures.lower("resnet18")
        let names = g.parameterNames
        XCTAssertEqual(Set(names).count, names.count, "parameter names must be distinct")
        // torchvision's state_dict keys (without fc and num_batches_tracked): 20 convs, 20 BNs x 4.
        XCTAssertEqual(names.count, 20 + 20 * 4)
        for n in ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                  "layer1.0.conv1.weight", "layer1.1.bn2.running_var", "layer2.0.downsample.0.weight",
                  "layer2.0.downsample.1.bias", "layer2.0.downsample.1.running_mean", "layer4.1.conv2.weight", "layer4.0.downsample.0.weight"] {
            XCTAssertTrue(names.contains(n), n)
        }
        XCTAssertFalse(names.contains { $0.hasPrefix("layer1.0.downsample") }, "stride-1 blocks have no downsample")
        XCTAssertEqual(g.parameterType("layer2.0.downsample.0.weight")?.description, "f32[128,64,1,1]")
        XCTAssertEqual(g.parameterType("conv1.weight")?.description, "f32[64,3,7,7]")
        let rm = try XCTUnwrap(g.parameter(named: "bn1.running_mean"))
        XCTAssertEqual(g[rm].attributes.bool("buffer"), true)
        XCTAssertNil(g[try XCTUnwrap(g.parameter(named: "bn1.weight"))].attributes.bool("buffer"))
        XCTAssertEqual(g.nodes.filter { $0.op.name == "batch_norm" }.count, 20)
        let block = try XCTUnwrap(rows.first { $0.name == "layer2.0" })
        XCTAssertEqual(block.type, "BasicBlock")
        XCTAssertEqual(block.outputShape.description, "[B,128,63,63]")
        XCTAssertEqual(rows.first { $0.name == "layer1.0.bn1" }?.buffers, 128)
    }

    func testQ1AttentionGraph() throws {
        let (g, rows) = try Fixtures.lower("q1_attention")
        XCTAssertEqual(g.output(named: "P1").map { g.type(of: $0).description }, "f32[6,6]")
        XCTAssertEqual(g.output(named: "A2").map { g.type(of: $0).description }, "f32[8,8]")
        XCTAssertEqual(g.parameterNames, ["head1.w_q", "head1.w_k", "head2.w_q", "head2.w_k"])
        XCTAssertEqual(rows.map(\.parameters), [24, 24, 24, 24])
    }

    func testQ1CNNShapes() throws {
        let (g, rows) = try Fixtures.lower("q1_cnn")
        XCTAssertEqual(g.parameterType("fc.weight")?.description, "f32[10,968]")
        XCTAssertEqual(rows.map(\.name), ["conv", "pool", "fc"])
        XCTAssertEqual(rows.map(\.parameters), [608, 0, 9_690])
    }

    /// Every graph is valid Swift syntax (`swiftc -parse`).
    func testGraphsParseAsSwift() throws {
        let candidates = ["/opt/swift/usr/bin/swiftc", "/usr/bin/swiftc", "/usr/local/bin/swiftc"]
        guard let swiftc = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            print("skipping testGraphsParseAsSwift: swiftc not found in \(candidates)")
            throw XCTSkip("swiftc not found")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-parse-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in Self.all {
            // swiftc only accepts .swift files, so each graph is checked as a copy.
            let copy = dir.appendingPathComponent("\(name).swift")
            try Fixtures.source(name).write(to: copy, atomically: true, encoding: .utf8)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: swiftc)
            p.arguments = ["-parse", copy.path]
            let err = Pipe()
            p.standardError = err
            try p.run()
            let data = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, "\(name): \(String(decoding: data, as: UTF8.self))")
        }
    }
}
