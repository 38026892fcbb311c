import GraphIR

/// The pipelines graphc compiles models with, declared once: the CLI, the library's training
/// code, the tests and the benchmarks all take them from here.
///
/// A model lowered for training goes through `forward` (clean-ups, the dropout override, the
/// forward speed-ups), then `training` (its gradients, clean-ups and speed-ups) for the
/// graph the trainer steps, and `evaluation` (speed-ups, no gradients) for the graph that
/// scores it. `compile` is the whole of it in one pipeline, with the memory plan shown in
/// the IR: what `--dump-ir` prints. `inference` compiles a model lowered in infer mode
/// (decoders, feature encoders).
///
/// Each accepts a graph dumped at any point of these pipelines: `autodiff` leaves a graph
/// that has its gradients as it is, `drop-gradients` takes the forward part back out of
/// one, and the speed-ups and the memory plan find nothing left to do on their own output.
public enum Pipelines {
    /// The clean-ups every model gets first.
    public static let cleanup: [Pass] = [.verify, .shapeInference, .constantFolding, .commonSubexpressionElimination,
                                         .deadCodeElimination, .verify]
    /// Speed-ups of the forward graph that autodiff should see (it then differentiates the
    /// cheaper form).
    public static let forwardOptimisations: [Pass] = [.attentionScores, .contract, .attentionContext, .stackProducts, .lstmCells, .deadCodeElimination, .verify]
    /// The gradients, and the clean-ups again (autodiff leaves dead and duplicate nodes).
    public static let differentiation: [Pass] = [.autodiff, .constantFolding, .commonSubexpressionElimination,
                                                 .deadCodeElimination, .verify]
    /// Speed-ups run last, on the forward and on the training graph alike (`slice-products`
    /// leaves per-step products that `stack-products` stacks, and their stacked operands
    /// duplicates of existing stacks that cse merges; `reduced-inputs` after cse, which
    /// merges an input's duplicate means; `attention-grad-sums` before `fusion`, which would
    /// otherwise fuse the adds it sums).
    public static let optimisations: [Pass] = [.stackSums, .hoist, .sliceProducts, .stackProducts, .commonSubexpressionElimination, .reducedInputs, .attentionGradSums, .fusion, .poolGradientSums, .pooledWeightGradients, .deadCodeElimination, .recomputePooledConvolutions, .deadCodeElimination, .verify]

    /// A model as lowered -> its forward graph, ready to differentiate: clean-ups, the
    /// dropout override (`options.dropout`), and with `options.fusion` the forward speed-ups.
    public static func forward(_ options: PassOptions) -> Pipeline {
        Pipeline(name: "forward", passes: cleanup + (options.dropout != nil ? [.setDropout] : [])
                    + (options.fusion ? forwardOptimisations : []))
    }

    /// `forward`'s result -> the graph the trainer steps: the loss's gradients, then with
    /// `options.fusion` the speed-ups, and with `options.dataParallel` the gradients'
    /// all-reduce (last, so it sees the backward in the order it will run).
    public static func training(_ options: PassOptions) -> Pipeline {
        Pipeline(name: "training", passes: differentiation + (options.fusion ? optimisations : [])
                    + (options.dataParallel ? [.dataParallel, .verify] : []))
    }

    /// `forward`'s result -> the graph that scores the model: no gradients, and with
    /// `options.fusion` the speed-ups: no dropout (all ones outside training), the
    /// convolutions in the blocked layout (no gradients to keep conv2d for), then the rest.
    public static func evaluation(_ options: PassOptions) -> Pipeline {
        Pipeline(name: "evaluation", passes: [.dropGradients, .deadCodeElimination, .verify]
                    + (options.fusion ? [.removeDropout] + inferenceLayout + optimisations : []))
    }

    /// A model lowered in infer mode -> the graph a decoder or an encoder runs: the
    /// clean-ups, without gradients, and with `options.fusion` attention's scores as one op,
    /// inputs read only through their mean taken reduced, and the blocked layout.
    public static func inference(_ options: PassOptions) -> Pipeline {
        Pipeline(name: "inference", passes: [.dropGradients] + cleanup + (options.fusion ? [.attentionScores, .reducedInputs] + inferenceLayout : []))
    }

    /// Inference and evaluation graphs' convolutions in the blocked layout, 2x2 max pooling
    /// in their store (no gradients: training graphs keep conv2d).
    public static let inferenceLayout: [Pass] = [.blockedLayout, .fuseConvPool, .deadCodeElimination, .verify]

    /// Everything a model goes through, ending with its memory plan shown in the IR:
    /// `forward`, then `training` for a graph with a loss, else the speed-ups.
    public static func compile(for g: Graph, _ options: PassOptions) -> Pipeline {
        let rest = g.loss != nil ? training(options).passes : (options.fusion ? inferenceLayout + optimisations : [])
        return Pipeline(name: "compile", passes: forward(options).passes + rest + [.memoryPlan])
    }

    /// A model lowered for training -> the graph that scores it and the graph the trainer
    /// steps, both from one run of `forward`.
    public static func compileForTraining(_ lowered: Graph, _ context: PassContext = PassContext()) throws -> (forward: Graph, training: Graph) {
        let prepared = try forward(context.options).run(lowered, context)
        let trainingGraph = try training(context.options).run(prepared, context)
        let forwardGraph = try evaluation(context.options).run(prepared, context)
        return (forwardGraph, trainingGraph)
    }

    /// A model lowered in infer mode -> the graph a decoder or an encoder runs (`inference`).
    public static func compileForInference(_ lowered: Graph, _ context: PassContext = PassContext()) throws -> Graph {
        try inference(context.options).run(lowered, context)
    }
}
