import GraphIR

/// Where a run first made a NaN or an infinity (`Executor.checksNumerics`), as PyTorch's anomaly
/// mode, TF's `check_numerics` and JAX's `debug_nans` report it: the op that produced it and
/// where the model declared that op, the value, and what the op read. With the check on, every
/// output is checked right after its kernel runs, so the op named is the first whose output is
/// not finite, and its operands (other than feeds and parameters) are known to be finite.
public struct NumericsFinding: Error, CustomStringConvertible {
    /// The node that produced the value, its op and the source location it came from.
    public var node: Int
    public var op: String
    public var location: SourceLocation?
    /// The first non-finite value of the output, its flat index, how many there are, and the
    /// output's shape.
    public var value: Float
    public var index: Int
    public var nonFiniteCount: Int
    public var shape: [Int]
    /// The op's f32 operands: their names (the node's name, or %id) and the range of their
    /// finite values, which says whether the op was outside its domain (a log of a negative).
    public var operands: [FloatSummary]
    /// Feeds and parameters of this run that already held a NaN or an infinity.
    public var nonFiniteInputs: [FloatSummary]
    public var nonFiniteParameters: [FloatSummary]
    /// True when the op belongs to the backward pass (it computes a gradient).
    public var isGradient: Bool

    public var description: String {
        var s = "\(op) (%\(node)) made \(value)"
        if nonFiniteCount > 1 { s += " (\(nonFiniteCount) of \(shape.reduce(1, *)) values non-finite)" }
        if let l = location { s += " at \(l)" }
        return s
    }
}

/// The finite range of an f32 tensor and its first non-finite value, if any.
public struct FloatSummary: Sendable {
    public var name: String
    public var shape: [Int]
    public var min: Float?
    public var max: Float?
    public var firstNonFinite: (index: Int, value: Float)?
    public var nonFiniteCount: Int

    public var isFinite: Bool { nonFiniteCount == 0 }

    /// Scans `values` once.
    public init(name: String, shape: [Int], values: UnsafeBufferPointer<Float>) {
        self.name = name
        self.shape = shape
        var lo = Float.infinity, hi = -Float.infinity, bad = 0
        var first: (Int, Float)?
        for (i, v) in values.enumerated() {
            if v.isFinite {
                lo = Swift.min(lo, v); hi = Swift.max(hi, v)
            } else {
                if first == nil { first = (i, v) }
                bad += 1
            }
        }
        min = lo <= hi ? lo : nil
        max = lo <= hi ? hi : nil
        firstNonFinite = first
        nonFiniteCount = bad
    }

    /// "name [shape]: 3 of 784 values non-finite (first nan at 12)" or its finite range.
    public var description: String {
        var s = "'\(name)' \(shape)"
        if let (i, v) = firstNonFinite {
            s += ": \(nonFiniteCount) of \(shape.reduce(1, *)) values non-finite (first \(v) at index \(i))"
        } else if let lo = min, let hi = max {
            s += " ranges over [\(lo), \(hi)]"
        }
        return s
    }
}

/// Whether an f32 buffer holds only finite values: the quick test run after each kernel.
@inline(__always)
func allFinite(_ p: UnsafePointer<Float>, _ n: Int) -> Bool {
    // A sum of x * 0 is NaN exactly when some x is NaN or infinite; one pass, vectorisable.
    var acc: Float = 0
    var i = 0
    while i < n { acc += p[i] * 0; i += 1 }
    return acc == 0
}

extension Executor {
    /// Runs the graph once with every output checked (`checksNumerics` on for this run) and
    /// returns the first non-finite one, or nil when every value was finite. The feeds and
    /// parameters are those of the run being explained (a failed training step, before its
    /// update).
    public func locateNonFinite(feeds: [String: HostTensor], parameters store: ParameterStore) throws -> NumericsFinding? {
        let was = checksNumerics
        checksNumerics = true
        defer { checksNumerics = was }
        do {
            try execute(feeds: feeds, parameters: store)
            return nil
        } catch let f as NumericsFinding {
            return f
        }
    }

    /// The finding for step `step` whose output is not finite: what it read, and which feeds
    /// and parameters of the run were already non-finite.
    /// Summaries of the f32 operands of `step` that share memory with its output, taken
    /// before the kernel overwrites them (keyed by operand position).
    func overwrittenOperands(_ step: BoundPlan.Step) -> [Int: FloatSummary] {
        let out = step.context.output
        let node = graph.nodes[step.node]
        var result: [Int: FloatSummary] = [:]
        for (i, view) in step.context.inputs.enumerated() where view.dtype == .f32 && view.data == out.data {
            result[i] = FloatSummary(name: graph[node.inputs[i]].name ?? "%\(node.inputs[i].id)", shape: view.shape,
                                     values: UnsafeBufferPointer(view.floats))
        }
        return result
    }

    func finding(for step: BoundPlan.Step, in plan: BoundPlan, overwritten: [Int: FloatSummary] = [:]) -> NumericsFinding? {
        finding(for: step, views: plan.views, overwritten: overwritten)
    }

    /// As above, with every value's memory given by `views` (the parameter-derived values are
    /// computed outside a plan's steps).
    func finding(for step: BoundPlan.Step, views: [TensorView], overwritten: [Int: FloatSummary] = [:]) -> NumericsFinding? {
        let out = step.context.output
        guard out.dtype == .f32, !allFinite(out.f32, out.count) else { return nil }
        let node = graph.nodes[step.node]
        let summary = FloatSummary(name: "", shape: out.shape, values: UnsafeBufferPointer(out.floats))
        func name(_ v: Value) -> String { graph[v].name ?? "%\(v.id)" }
        func summarise(_ v: Value) -> FloatSummary? {
            let view = views[v.id]
            guard view.dtype == .f32 else { return nil }
            return FloatSummary(name: name(v), shape: view.shape, values: UnsafeBufferPointer(view.floats))
        }
        let operands = node.inputs.enumerated().compactMap { i, v in overwritten[i] ?? summarise(v) }
        let badInputs = graph.inputs.compactMap(summarise).filter { !$0.isFinite }
        let badParameters = graph.parameters.compactMap(summarise).filter { !$0.isFinite }
        return NumericsFinding(node: step.node, op: node.op.name, location: node.location,
                               value: summary.firstNonFinite?.value ?? .nan, index: summary.firstNonFinite?.index ?? 0,
                               nonFiniteCount: summary.nonFiniteCount, shape: out.shape, operands: operands,
                               nonFiniteInputs: badInputs, nonFiniteParameters: badParameters,
                               isGradient: isBackward(step.node))
    }

    /// Whether node `i` comes after the loss (autodiff appends the backward pass to the
    /// forward one, so everything past the loss computes gradients).
    private func isBackward(_ i: Int) -> Bool {
        guard let loss = graph.loss else { return false }
        return i > loss.id
    }
}
