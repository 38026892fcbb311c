import Foundation
import GraphIR

/// Which passes compile a model, and the shared bits of running them.
public enum Compile {
    /// The forward clean-ups; a graph with a loss, lowered for training, also gets its
    /// gradients and the clean-ups again (autodiff leaves dead and duplicate nodes).
    public static func pipeline(for g: Graph) -> [String] {
        var names = Pipelines.default + forwardOptimisations
        if g.loss != nil { names += ["autodiff", "constant-folding", "cse", "dce", "verify"] }
        return names + optimisations + planning
    }

    /// Speed-ups of the forward graph that autodiff should see (it then differentiates the
    /// cheaper form).
    public static let forwardOptimisations: [String] = ["contract", "stack-products", "dce", "verify"]

    /// Speed-ups run last, on the forward and on the training graph alike.
    public static let optimisations: [String] = ["stack-sums", "hoist", "fusion", "dce", "verify"]

    /// What --dump-ir adds after the optimisations: the memory plan, shown in the IR.
    public static let planning: [String] = ["memory-plan"]

    public static func printTime(_ pass: Pass, _ time: Duration, _ g: Graph) {
        let ms = Double(time.components.seconds) * 1000 + Double(time.components.attoseconds) / 1e15
        FileHandle.standardError.write(Data(String(format: "%-18@ %9.2f ms  %7d nodes\n", pass.name as NSString, ms, g.nodes.count).utf8))
    }
}
