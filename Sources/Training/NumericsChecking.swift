import Foundation
import GraphIR
import Passes
import Runtime

/// When training checks every op's output for NaN and infinity (`--check-numerics`).
public enum NumericsCheckMode: String, CaseIterable, Sendable {
    /// The first `CheckedTraining.firstCheckedSteps` steps of each run op by op, and any
    /// step whose loss is not finite run again op by op to find where it went wrong.
    case auto
    /// Every step op by op, and the weights after every update (slower).
    case always
    /// No checks; a non-finite loss only stops the run.
    case off
}

/// Runs training steps under the numerics check and turns a NaN or an infinity into an error
/// that says where it came from: the first op whose output was not finite, its DSL
/// `file:line:col` with the source line, the epoch and step, whether the batch or the weights
/// were already non-finite, and advice that fits that cause (as PyTorch's anomaly mode names
/// the forward op of a failing backward, and TF's `check_numerics` names the tensor).
///
/// A failed step made no update, so it is run again op by op, on the model compiled without
/// fusion (`PassOptions.fusion` off): each op is then one node with its own source location,
/// rather than a fused chain reporting one location for several lines.
final class CheckedTraining {
    /// Steps checked op by op at the start of each run in `.auto` mode.
    static let firstCheckedSteps = 3

    let mode: NumericsCheckMode
    let trainer: Trainer
    let file: String
    let lowered: Graph
    let recipe: Recipe
    let learningRate: Float
    /// What the batch's f32 inputs are, for the advice ("the data", "the features").
    let inputKind: [String: String]
    private var steps = 0

    init(mode: NumericsCheckMode, trainer: Trainer, file: String, lowered: Graph, recipe: Recipe, learningRate: Float,
         inputKind: [String: String]) {
        self.mode = mode; self.trainer = trainer; self.file = file; self.lowered = lowered
        self.recipe = recipe; self.learningRate = learningRate; self.inputKind = inputKind
    }

    /// One training step (`Trainer.step`) under the check; epoch and step are 1-based.
    func step(feeds: [String: HostTensor], writing written: [String: FeedWriter] = [:], epoch: Int, step: Int) throws -> Float {
        trainer.executor.checksNumerics = mode == .always || (mode == .auto && steps < Self.firstCheckedSteps)
        steps += 1
        do {
            return try trainer.step(feeds: feeds, writing: written)
        } catch let f as NumericsFinding {
            throw explain(try locate(FeedWriter.tensors(feeds, adding: written)) ?? f, epoch: epoch, step: step)
        } catch let e as NonFiniteLoss {
            guard mode != .off, let f = try locate(FeedWriter.tensors(feeds, adding: written)) else {
                throw TrainingDiverged(summary: "epoch \(epoch), step \(step): \(e) (lr \(learningRate))"
                    + (mode == .off ? "; run with --check-numerics auto to find the op that made it" : "; every op's output was finite when the step was run again op by op"),
                                       epoch: epoch, step: step)
            }
            throw explain(f, epoch: epoch, step: step)
        } catch let u as NonFiniteUpdate {
            throw TrainingDiverged(summary: "epoch \(epoch), step \(step): \(u) from finite gradients: "
                + "the learning rate (\(learningRate))\(recipe.weightDecay != 0 ? " or the weight decay (\(recipe.weightDecay))" : "") is too large for it",
                                   epoch: epoch, step: step)
        }
    }

    /// The step run again op by op on the unfused model: the first non-finite output, or nil.
    private func locate(_ feeds: [String: HostTensor]) throws -> NumericsFinding? {
        var options = recipe.passes
        options.fusion = false
        // Run again on this rank alone: a data-parallel job's other ranks are not in this step.
        options.dataParallel = false
        let (_, training) = try Pipelines.compileForTraining(lowered, PassContext(options: options))
        let executor = try Executor(graph: training, options: ExecutionOptions(training: true, seed: recipe.seed, threads: 1),
                                    planner: BufferPlan.lifetimes)
        return try executor.locateNonFinite(feeds: feeds, parameters: trainer.parameters)
    }

    private func explain(_ f: NumericsFinding, epoch: Int, step: Int) -> Error {
        let what = "\(f.op) made \(f.value) in epoch \(epoch), step \(step) (lr \(learningRate))"
            + (f.isGradient ? ", in the backward pass" : "")
        let error = NumericsReport.diagnostic(f, message: what, modelFile: file,
                                              advice: advice(f, firstStep: epoch == 1 && step == 1))
        let place = f.location.map { " at \($0)" } ?? ""
        return TrainingDiverged(summary: what + place, epoch: epoch, step: step, error: error)
    }

    /// Advice that fits the cause: bad data or features, weights made non-finite (at the start,
    /// or by earlier updates), an op outside its domain, or values outgrowing float32.
    func advice(_ f: NumericsFinding, firstStep: Bool) -> String {
        if let input = f.nonFiniteInputs.first {
            let kind = inputKind[input.name] ?? "input"
            if kind == "features" {
                return "the batch's features were already non-finite: recompute them (--extract-features) and check the encoder's weights"
            }
            return "this batch's \(kind) \(input.name) was already non-finite: the data files hold NaN or infinity; fix or replace them"
        }
        if f.nonFiniteParameters.first != nil {
            return firstStep
                ? "the initial weights were already non-finite: check the model's initialisers (or the weights file)"
                : "the weights were already non-finite: an earlier update made them so; try a smaller learning rate than \(learningRate)"
                  + (recipe.weightDecay != 0 ? " or weight decay than \(recipe.weightDecay)" : "") + ", or --grad-clip"
        }
        if let domain = NumericsReport.domainProblem(f) {
            return "\(domain): change the expression at this line so its operand stays in range"
                + (firstStep ? "" : " (or train with a smaller learning rate, if it drifted there)")
        }
        return firstStep
            ? "the values outgrow float32 in the first step: check the scale of this line's inputs and initial weights"
            : "the values grew past float32's range: training diverged; try a smaller learning rate than \(learningRate) or --grad-clip"
    }
}

/// Training stopped on a NaN or an infinity: `summary` in one line (for metrics.json and the
/// report), `error` the full, located explanation (a `Diagnostic` when an op was found).
public struct TrainingDiverged: Error, CustomStringConvertible {
    public var summary: String
    public var epoch: Int
    public var step: Int
    public var error: Error
    public init(summary: String, epoch: Int, step: Int, error: Error? = nil) {
        self.summary = summary; self.epoch = epoch; self.step = step
        self.error = error ?? RuntimeError(summary)
    }
    public var description: String { String(describing: error) }
}

/// Numerics findings rendered for people, shared by training, evaluation and feature extraction.
enum NumericsReport {
    /// A located error for `f`: at the op's source location with the model file's line when the
    /// location is in it (a `.gir` file's `loc()` may name any file, which is not shown), its
    /// operands, the non-finite feeds and weights, and `advice` as notes.
    static func diagnostic(_ f: NumericsFinding, message: String, modelFile: String, advice: String) -> Error {
        var notes: [String] = []
        for o in f.operands { notes.append("operand \(o.description)") }
        for i in f.nonFiniteInputs { notes.append("input \(i.description)") }
        for p in f.nonFiniteParameters.prefix(5) { notes.append("weight \(p.description)") }
        if f.nonFiniteParameters.count > 5 { notes.append("\(f.nonFiniteParameters.count - 5) more weights non-finite") }
        notes.append(advice)
        let text = message + " (\(f.nonFiniteCount) of \(f.shape.reduce(1, *)) values of \(f.shape) non-finite, first at index \(f.index))"
        guard let location = f.location else {
            return RuntimeError(([text + " (the op has no source location)"] + notes.map { "note: " + $0 }).joined(separator: "\n"))
        }
        var d = Diagnostic(text, at: location, notes: notes)
        if location.file == modelFile, InputFile.problem(modelFile, maxBytes: InputFile.maxModelBytes) == nil,
           let source = try? String(contentsOfFile: modelFile, encoding: .utf8) {
            d.sourceLine = Diagnostic.line(location.line, of: source)
        }
        return d
    }

    /// What is out of range when an op with a restricted domain made the value.
    static func domainProblem(_ f: NumericsFinding) -> String? {
        guard let x = f.operands.first, let lo = x.min else { return nil }
        switch f.op {
        case "log" where lo <= 0:
            return "log of \(lo) (its operand \(x.description)): log needs values above 0"
        case "div" where f.operands.count == 2:
            let d = f.operands[1]
            if let dl = d.min, let dh = d.max, dl <= 0, dh >= 0 { return "division by zero (the divisor \(d.description))" }
            return nil
        case "exp" where (x.max ?? 0) > 88:
            return "exp of \(x.max ?? 0) (its operand \(x.description)): exp overflows float32 above about 88"
        default:
            return nil
        }
    }
}

extension NumericsReport {
    /// Refuses weights holding NaN or infinity (a diverged checkpoint, a corrupt `.pth`): an
    /// evaluation or feature extraction with them would report `loss nan` or write NaN features.
    static func checkWeights(_ store: ParameterStore, for graph: Graph, source: String) throws {
        var bad: [FloatSummary] = []
        for v in graph.parameters {
            guard let name = graph[v].name, let t = store.get(name), t.dtype == .f32 else { continue }
            let s = t.floats.withUnsafeBufferPointer { FloatSummary(name: name, shape: t.shape, values: $0) }
            if !s.isFinite { bad.append(s) }
        }
        guard let first = bad.first else { return }
        throw RuntimeError("\(source): weight \(first.description)"
            + (bad.count > 1 ? " (and \(bad.count - 1) more weights non-finite)" : "")
            + ": these weights cannot give finite outputs (a checkpoint of a diverged run, or a corrupt file)")
    }

    /// Why `executor`'s last run (on `feeds`) made a non-finite output: the run again op by op,
    /// reported at the op's source location.
    static func explainOutput(_ executor: Executor, feeds: [String: HostTensor], store: ParameterStore, what: String,
                              modelFile: String) throws -> Error {
        guard let f = try executor.locateNonFinite(feeds: feeds, parameters: store) else {
            return RuntimeError("\(what): an output was not finite, but every op's output was finite when run again op by op")
        }
        let advice: String
        if let input = f.nonFiniteInputs.first {
            advice = "the input \(input.name) was already non-finite: the data holds NaN or infinity"
        } else if !f.nonFiniteParameters.isEmpty {
            advice = "the weights are not finite: a checkpoint of a diverged run, or a corrupt file"
        } else if let domain = domainProblem(f) {
            advice = "\(domain): change the expression at this line so its operand stays in range"
        } else {
            advice = "the values outgrow float32 at this op"
        }
        return diagnostic(f, message: "\(what): \(f.op) made \(f.value)", modelFile: modelFile, advice: advice)
    }
}
