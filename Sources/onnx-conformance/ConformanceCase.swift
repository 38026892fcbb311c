import Foundation
import GraphIR
import ONNX
import Passes
import Runtime
import SwiftProtobuf

/// One case of the ONNX backend tests as `cases.tsv` lists it (scripts/onnx-conformance-data.py).
struct ConformanceCase {
    var suite: String
    var name: String
    /// The operator the case tests (node tests), or what the model holds.
    var op: String
    var folder: String
    var rtol: Double
    var atol: Double
    /// Why the data could not be laid out (a non-tensor input, say); empty when it was.
    var notLaidOut: String

    static func read(manifest path: String) throws -> [ConformanceCase] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var cases: [ConformanceCase] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() where i > 0 {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 6, let rtol = Double(f[4]), let atol = Double(f[5]) else {
                throw RuntimeError("\(path):\(i + 1): expected suite, case, op, folder, rtol, atol and a reason, tab-separated")
            }
            cases.append(ConformanceCase(suite: f[0], name: f[1], op: f[2], folder: f[3], rtol: rtol, atol: atol,
                                         notLaidOut: f.count > 6 ? f[6] : ""))
        }
        return cases
    }
}

/// What running a case gave.
enum Outcome {
    case pass(maxError: Double)
    /// Passed once its integer inputs were given as constants (see `integerInputsAsConstants`).
    case passWithConstantInputs(maxError: Double)
    case fail(String)
    case notSupported(String)

    var word: String {
        switch self {
        case .pass, .passWithConstantInputs: return "pass"
        case .fail: return "fail"
        case .notSupported: return "not supported"
        }
    }
}

extension ConformanceCase {
    /// Imports the model, compiles it for inference, runs every data set and compares each output
    /// with the reference as ONNX's runner does: |got - expected| <= atol + rtol |expected|.
    func run(threads: Int) -> Outcome {
        if !notLaidOut.isEmpty { return .notSupported(notLaidOut) }
        let modelPath = folder + "/model.onnx"
        let proto: Onnx_ModelProto
        do {
            proto = try Onnx_ModelProto(serializedBytes: try Data(contentsOf: URL(fileURLWithPath: modelPath)))
        } catch {
            return .fail("cannot read \(modelPath): \(error)")
        }
        let missing = Set(proto.graph.node.filter { n in
            !(n.domain.isEmpty || n.domain == "ai.onnx") || ONNXOps.byType[n.opType] == nil
        }.map { $0.domain.isEmpty ? $0.opType : "\($0.domain).\($0.opType)" })
        if !missing.isEmpty { return .notSupported(missing.sorted().joined(separator: ", ")) }
        for v in Array(proto.graph.input) + Array(proto.graph.output) where ONNXTensors.dtype(onnx: v.type.tensorType.elemType) == nil {
            return .notSupported("data type \(ONNXTensors.typeName(v.type.tensorType.elemType)) (\(v.name))")
        }
        let written = Set(proto.graph.initializer.map(\.name))
        let inputNames = proto.graph.input.map(\.name).filter { !written.contains($0) }
        let outcome: Outcome
        do {
            outcome = try run(proto, inputNames: inputNames, modelPath: modelPath, threads: threads)
        } catch let first {
            // graphc compiles static graphs: an integer input that an op needs at import (axes,
            // a shape, a ratio) is given as the constant its one data set holds, as backends
            // that compile ahead of time run these tests. The line says so. When that run
            // fails too, its error is the one reported: it is what stops graphc once the
            // inputs are known.
            let constant: Onnx_ModelProto?
            do { constant = try integerInputsAsConstants(proto) } catch { constant = nil }
            guard let constant else { return explained(.fail(oneLine(first)), proto) }
            do {
                switch try run(constant, inputNames: inputNames, modelPath: modelPath, threads: threads) {
                case .pass(let e): return .passWithConstantInputs(maxError: e)
                case .fail(let m): outcome = .fail("with its integer inputs as constants: \(m)")
                case let other: outcome = other
                }
            } catch {
                outcome = .fail("with its integer inputs as constants: \(oneLine(error))")
            }
        }
        return explained(outcome, proto)
    }

    func oneLine(_ error: Error) -> String { "\(error)".replacingOccurrences(of: "\n", with: " ") }

    /// A failure of a model whose output is random by ONNX's definition (Dropout in training
    /// mode with a ratio above 0) says why it cannot match: the reference drew its mask from
    /// numpy's generator, which graphc does not reproduce.
    func explained(_ outcome: Outcome, _ proto: Onnx_ModelProto) -> Outcome {
        guard case .fail(let message) = outcome, let dropout = randomDropout(proto) else { return outcome }
        return .fail("random by definition: \(dropout) draws its mask from numpy's generator, which graphc does not reproduce (graphc's dropout is the identity when it evaluates; \(message))")
    }

    /// The first Dropout node that the case runs in training mode with a ratio above 0, as
    /// its attributes, initializers and first data set give them (nil: none).
    func randomDropout(_ proto: Onnx_ModelProto) -> String? {
        let initializers = Set(proto.graph.initializer.map(\.name))
        let inputs = proto.graph.input.map(\.name).filter { !initializers.contains($0) }
        func tensor(_ name: String) -> HostTensor? {
            if let t = proto.graph.initializer.first(where: { $0.name == name }) {
                return try? ONNXTensors.decode(t, file: folder, folder: folder)
            }
            guard let k = inputs.firstIndex(of: name), let set = dataSets().first else { return nil }
            return try? ONNXTensors.read(path: "\(set)/input_\(k).pb").tensor
        }
        for (i, n) in proto.graph.node.enumerated() where n.opType == "Dropout" && n.input.count > 2 && !n.input[2].isEmpty {
            guard let training = tensor(n.input[2])?.ints.first, training != 0 else { continue }
            let ratio = n.input.count > 1 && !n.input[1].isEmpty ? tensor(n.input[1])?.floats.first : 0.5
            guard let ratio, ratio > 0 else { continue }
            return "Dropout \"\(n.name.isEmpty ? "#\(i)" : n.name)\" in training mode with ratio \(ratio)"
        }
        return nil
    }

    /// The model with each integer graph input made an initializer holding its value in the
    /// case's single data set (nil: no such input, or several data sets).
    func integerInputsAsConstants(_ proto: Onnx_ModelProto) throws -> Onnx_ModelProto? {
        let sets = dataSets()
        guard sets.count == 1 else { return nil }
        let initializers = Set(proto.graph.initializer.map(\.name))
        var p = proto, changed = false
        for (k, input) in proto.graph.input.filter({ !initializers.contains($0.name) }).enumerated()
        where ONNXTensors.dtype(onnx: input.type.tensorType.elemType) == .i64 {
            var t = try Onnx_TensorProto(serializedBytes: try Data(contentsOf: URL(fileURLWithPath: "\(sets[0])/input_\(k).pb")))
            t.name = input.name
            p.graph.initializer.append(t)
            changed = true
        }
        return changed ? p : nil
    }

    /// Runs `proto`; the data files are numbered over `inputNames`, the inputs of the file as
    /// written that are not initializers (those made constants are skipped).
    func run(_ proto: Onnx_ModelProto, inputNames: [String], modelPath: String, threads: Int) throws -> Outcome {
        do {
            let model = try ONNXModel.load(proto: proto, file: modelPath, folder: folder)
            let graph = try Pipelines.compileForInference(model.graph)
            let parameters = ParameterStore()
            try model.initialise(parameters, for: graph)
            let executor = try Executor(graph: graph, options: ExecutionOptions(training: false, threads: threads), planner: BufferPlan.lifetimes)
            let taken = Set(graph.inputs.compactMap { graph[$0].name })
            var worst = 0.0
            for set in dataSets() {
                var feeds: [String: HostTensor] = [:]
                for (k, name) in inputNames.enumerated() where taken.contains(name) {
                    feeds[name] = try ONNXTensors.read(path: "\(set)/input_\(k).pb").tensor
                }
                let results = try executor.run(feeds: feeds, parameters: parameters)
                for (k, output) in proto.graph.output.enumerated() {
                    let expected = try ONNXTensors.read(path: "\(set)/output_\(k).pb").tensor
                    guard let got = results[output.name] else { return .fail("no output \"\(output.name)\"") }
                    guard got.shape == expected.shape else {
                        return .fail("output \"\(output.name)\" has shape \(got.shape), expected \(expected.shape)")
                    }
                    let (error, ok) = compare(got.floats, expected.floats)
                    worst = max(worst, error)
                    if !ok { return .fail(String(format: "output \"%@\": max abs error %.3g (rtol %g, atol %g)", output.name, error, rtol, atol)) }
                }
            }
            return .pass(maxError: worst)
        }
    }

    /// The test_data_set_N folders, in order.
    func dataSets() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasPrefix("test_data_set_") }
            .sorted { Int($0.dropFirst(14)) ?? 0 < Int($1.dropFirst(14)) ?? 0 }
            .map { folder + "/" + $0 }
    }

    /// The largest |got - expected| and whether every element is within tolerance (NaN matches NaN).
    func compare(_ got: [Float], _ expected: [Float]) -> (Double, Bool) {
        var worst = 0.0, ok = true
        for (g, e) in zip(got, expected) {
            let a = Double(g), b = Double(e)
            if a.isNaN || b.isNaN { if a.isNaN != b.isNaN { ok = false; worst = .infinity }; continue }
            if a == b { continue }
            let d = abs(a - b)
            worst = max(worst, d)
            if !(d <= atol + rtol * abs(b)) { ok = false }
        }
        return (worst, ok)
    }
}
