import GraphIR

/// `fusion`: merges ops that can share one loop, on forward and training graphs alike.
/// - an LSTM cell's gate math -> `lstm_cell` (FusionLSTMCell.swift), first; and its backward
///   ops' gradient, when only h's and c''s placed in zeros and added, -> those two operands;
/// - matmul + bias add (+ relu) -> `fused_matmul {activation}`;
/// - conv2d + relu -> `fused_conv2d {activation="relu"}`;
/// - conv2d + batch_norm (inference form) (+ relu) -> `fused_conv2d` on a scaled weight and
///   shifted bias computed from the statistics by a few weight-sized ops;
/// - log_softmax_grad(nll_loss_grad(dy, logp, t), logp) -> `log_softmax_nll_grad(dy, logp, t)`;
/// - relu_grad(maxpool2d_grad(dy, x), t) with x = t or x = relu(t) ->
///   `maxpool2d_grad(dy, x) {activation="relu"}` (one pass over the pooled image, not two);
/// - add(acc, additive_scores_grad(dy, enc, dec, w)) -> `additive_scores_grad(dy, enc, dec, w,
///   acc)`, written over acc: a decoder's steps' gradients of the attention's enc summed as
///   they are made (with the attention-scores kind, which makes the op);
/// - trees of elementwise ops whose inner values have one use and the same shape ->
///   `fused_elementwise {program, expr}` (at most 64 ops each); operands that are slices of
///   a last axis (an LSTM's four gates cut out of one product) are read through a window of
///   the sliced tensor (`offsets`, `width`) instead of a copy.
/// An activation is fused only when the value before it is otherwise used by relu_grad's
/// test operand alone (relu(p) > 0 exactly when p > 0), which is what autodiff makes;
/// those relu_grads then read the fused result.
///
///     %3 = matmul(%0, %1) {transpose_b=true} : f32[B,600]
///     %4 = add(%3, %2) : f32[B,600]
///     %5 = relu(%4) : f32[B,600]
/// becomes
///     %3 = fused_matmul(%0, %1, %2) {transpose_b=true, activation="relu"} : f32[B,600]
extension Pass {
    public static let fusion = Pass(name: "fusion", summary: "fuse bias+activation epilogues, log-softmax+NLL gradients and elementwise chains") { g, context in
        let cells = context.options.disabledFusions.contains(.lstmCell) ? g
            : try LSTMCellGradientOperands(g: try LSTMCellFusion(g, context).run(), context: context).run()
        return try Fusion(cells, context).run()
    }
}

/// The kinds of rewrite the fusion pass makes, each of which can be left out
/// (`PassOptions.disabledFusions`), with the pass statistic that counts it.
public enum FusionKind: String, CaseIterable, Sendable {
    case lstmCell = "lstm-cell"
    case matmulEpilogue = "matmul-epilogue"
    case convEpilogue = "conv-epilogue"
    case batchNormFold = "batch-norm-fold"
    case lossGradient = "loss-gradient"
    case elementwise = "elementwise"
    case poolGradient = "pool-gradient"
    case attentionScores = "attention-scores"
    case attentionContext = "attention-context"
    case sliceProducts = "slice-products"
    case reducedInputs = "reduced-inputs"
    case pooledWeightGradient = "pooled-weight-gradients"
    case attentionGradSums = "attention-grad-sums"
    case recomputedPooledConvolution = "recompute-pooled-convolutions"

    /// The `--pass-stats` counter of the fusion pass that counts this kind.
    public var counter: String {
        switch self {
        case .lstmCell: "lstm cells"
        case .matmulEpilogue: "matmul epilogues"
        case .convEpilogue: "conv epilogues"
        case .batchNormFold: "batch norms folded"
        case .lossGradient: "loss gradients"
        case .elementwise: "elementwise kernels"
        case .poolGradient: "pool gradients"
        case .attentionScores: "attention scores"
        case .attentionContext: "attention contexts"
        case .sliceProducts: "products split"
        case .reducedInputs: "inputs taken reduced"
        case .pooledWeightGradient: "weight gradients from pooled gradients"
        case .attentionGradSums: "attention gradient chains summed"
        case .recomputedPooledConvolution: "convolutions pooled in their store, recomputed for the weight gradient"
        }
    }

    /// The pass that makes this kind of rewrite (and counts it).
    public var pass: String {
        switch self {
        case .attentionScores, .attentionContext, .sliceProducts, .reducedInputs, .pooledWeightGradient, .attentionGradSums, .recomputedPooledConvolution: rawValue
        default: "fusion"
        }
    }
}

struct Fusion {
    let g: Graph
    let uses: [Int]
    /// Users of each value, in node order (graph outputs not included).
    let users: [[Int]]
    /// Ops per fused elementwise kernel at most: keeps programs and their scratch small.
    static let maxGroup = 64
    /// A node joins its user's kernel only if the user comes at most this many nodes later.
    /// Fusing moves the node's work to the user's place, so its operands must live until
    /// then: a gradient accumulated over the steps of an unrolled loop (add after add, one
    /// per step) fused into one kernel would keep every step's term alive to the end.
    static let maxDistance = 24

    let context: PassContext

    init(_ g: Graph, _ context: PassContext) {
        self.g = g
        self.context = context
        uses = context.useCounts(g)
        users = context.users(g)
    }

    /// What happens to a node: copied, left out (its work is in a later fused node), or
    /// replaced by a fused node.
    enum Role {
        case keep
        case absorbed
        case matmulEpilogue(matmul: Int, bias: Value, relu: Bool, aliases: [Int])
        case convEpilogue(conv: Int)
        case batchNormFold(conv: Int)
        case lossGradient(nllGrad: Int)
        case poolGradient(pool: Int)
        case attentionAccumulation(grad: Int, acc: Value)
        case elementwiseRoot
    }

    func op(_ i: Int) -> OpDef { g.nodes[i].op }
    /// Uses of `v` as a node input (`uses` also counts graph outputs and the loss).
    func usesByNodes(_ v: Int) -> Int { users[v].reduce(0) { n, u in n + g.nodes[u].inputs.filter { $0.id == v }.count } }

    /// Users of `pre` other than `except` are all relu_grad testing `pre` (not taking it as
    /// the incoming gradient) and come after `after`; and nothing else (no output) uses it.
    func onlyReluGradTests(_ pre: Int, except: Int, after: Int) -> Bool {
        guard uses[pre] == usesByNodes(pre) else { return false }
        for u in users[pre] where u != except {
            let n = g.nodes[u]
            guard n.op == .reluGrad, n.inputs[1].id == pre, n.inputs[0].id != pre, u > after else { return false }
        }
        return true
    }

    func run() throws -> Graph {
        let n = g.nodes.count
        var roles = [Role](repeating: .keep, count: n)
        findEpilogues(&roles)
        findAttentionAccumulations(&roles)
        let group = findElementwiseGroups(&roles)
        count(roles)

        var r = GraphRewriter(g, pass: "fusion")
        for v in g.values {
            let i = v.id
            let node = g.nodes[i]
            switch roles[i] {
            case .keep: try r.copy(v)
            case .absorbed: continue
            case .matmulEpilogue(let m, let bias, let relu, let aliases):
                let mm = g.nodes[m]
                var attrs = mm.attributes
                attrs["activation"] = .string(relu ? "relu" : "none")
                let inputs = try mm.inputs.map { try r.remap($0, in: v) } + [try r.remap(bias, in: v)]
                let new = try emit(&r, .fusedMatmul, inputs, attrs, like: node, for: v)
                for a in aliases { r.forward(Value(a), to: new) }
            case .convEpilogue(let c):
                let conv = g.nodes[c]
                var attrs = conv.attributes
                attrs["activation"] = .string("relu")
                let new = try emit(&r, .fusedConv2d, try conv.inputs.map { try r.remap($0, in: v) }, attrs, like: node, for: v)
                r.forward(Value(c), to: new)
            case .batchNormFold(let c):
                try emitBatchNormFold(&r, conv: c, root: v)
            case .lossGradient(let d):
                let nll = g.nodes[d]
                let inputs = [try r.remap(nll.inputs[0], in: v), try r.remap(nll.inputs[1], in: v), try r.remap(nll.inputs[2], in: v)]
                try emit(&r, .logSoftmaxNllGrad, inputs, nll.attributes, like: node, for: v)
            case .poolGradient(let p):
                let grad = g.nodes[p]
                var attrs = grad.attributes
                attrs["activation"] = .string("relu")
                try emit(&r, .maxpool2dGrad, try grad.inputs.map { try r.remap($0, in: v) }, attrs, like: node, for: v)
            case .attentionAccumulation(let d, let acc):
                let inputs = try g.nodes[d].inputs.map { try r.remap($0, in: v) } + [try r.remap(acc, in: v)]
                try emit(&r, .additiveScoresGrad, inputs, g.nodes[d].attributes, like: node, for: v)
            case .elementwiseRoot:
                let (leaves, program) = try elementwiseProgram(root: i, group: group)
                let inputs = try leaves.map { try r.remap(Value($0.value), in: v) }
                var attrs: Attributes = ["program": .ints(program.encoded), "expr": .string(program.text)]
                if leaves.contains(where: { $0.offset >= 0 }), let width = node.type.shape.dims.last?.value {
                    attrs["offsets"] = .ints(leaves.map(\.offset))
                    attrs["width"] = .int(width)
                }
                try emit(&r, .fusedElementwise, inputs, attrs, like: node, for: v)
            }
        }
        return try r.finish()
    }

    /// Reports the fused kernels to the statistics, by kind.
    func count(_ roles: [Role]) {
        for role in roles {
            switch role {
            case .keep: continue
            case .absorbed: context.count("ops absorbed")
            case .matmulEpilogue: context.count("matmul epilogues")
            case .convEpilogue: context.count("conv epilogues")
            case .batchNormFold: context.count("batch norms folded")
            case .lossGradient: context.count("loss gradients")
            case .poolGradient: context.count("pool gradients")
            case .attentionAccumulation: context.count("attention accumulations")
            case .elementwiseRoot: context.count("elementwise kernels")
            }
        }
    }

    @discardableResult
    func emit(_ r: inout GraphRewriter, _ op: OpDef, _ inputs: [Value], _ attrs: Attributes, like old: Node, for v: Value) throws -> Value {
        let type: TensorType
        do {
            type = try inferType(op, inputs.map { r.target.type(of: $0) }, attrs)
        } catch {
            throw nodeError("fusion", g, v, "fused \(op.name) does not type-check: \(error)")
        }
        guard type == old.type else { throw nodeError("fusion", g, v, "fused \(op.name) has type \(type), the ops it replaces \(old.type)") }
        return r.emit(Node(op: op, inputs: inputs, attributes: attrs, type: type, location: old.location, scope: old.scope), for: v)
    }

    // MARK: - Epilogues and the loss gradient

    func findEpilogues(_ roles: inout [Role]) {
        let off = context.options.disabledFusions
        for (i, node) in g.nodes.enumerated() {
            switch node.op {
            case .add where !off.contains(.matmulEpilogue):
                // add(matmul, bias) or add(bias, matmul), bias one value per output column.
                for (mi, bi) in [(0, 1), (1, 0)] {
                    let m = node.inputs[mi].id, bias = node.inputs[bi]
                    guard op(m) == .matmul, case .keep = roles[m], uses[m] == 1, users[m] == [i],
                          g.nodes[m].type == node.type, let last = node.type.shape.dims.last,
                          g.type(of: bias).shape == Shape([last]), case .keep = roles[bias.id] else { continue }
                    let reluUsers = users[i].filter { op($0) == .relu }
                    if reluUsers.count == 1, let relu = reluUsers.first, onlyReluGradTests(i, except: relu, after: relu),
                       case .keep = roles[relu] {
                        roles[m] = .absorbed; roles[i] = .absorbed
                        roles[relu] = .matmulEpilogue(matmul: m, bias: bias, relu: true, aliases: [i])
                    } else {
                        roles[m] = .absorbed
                        roles[i] = .matmulEpilogue(matmul: m, bias: bias, relu: false, aliases: [])
                    }
                    break
                }
            case .relu where !off.contains(.convEpilogue):
                let c = node.inputs[0].id
                guard op(c) == .conv2d, case .keep = roles[c], onlyReluGradTests(c, except: i, after: i),
                      users[c].contains(i) else { continue }
                roles[c] = .absorbed
                roles[i] = .convEpilogue(conv: c)
            case .batchNorm where !off.contains(.batchNormFold):
                // batch_norm(conv2d(...)) where nothing else reads the convolution, the
                // statistics one value per output channel; a relu reading only the
                // normalised value joins as the epilogue.
                let c = node.inputs[0].id
                guard op(c) == .conv2d, case .keep = roles[c], uses[c] == 1, let channels = g.nodes[c].type.shape.dims.dropFirst().first,
                      node.inputs.dropFirst().allSatisfy({ g.type(of: $0).shape == Shape([channels]) }) else { continue }
                roles[c] = .absorbed
                if uses[i] == 1, users[i].count == 1, let u = users[i].first, op(u) == .relu, case .keep = roles[u] {
                    roles[i] = .absorbed
                    roles[u] = .batchNormFold(conv: c)
                } else {
                    roles[i] = .batchNormFold(conv: c)
                }
            case .logSoftmaxGrad where !off.contains(.lossGradient):
                let d = node.inputs[0].id
                let axis = node.attributes[.axis] ?? -1
                guard op(d) == .nllLossGrad, uses[d] == 1, g.nodes[d].inputs[1] == node.inputs[1],
                      g.type(of: g.nodes[d].inputs[0]).rank == 0,
                      axis == -1 || axis == node.type.rank - 1 else { continue }
                roles[d] = .absorbed
                roles[i] = .lossGradient(nllGrad: d)
            case .reluGrad where !off.contains(.poolGradient):
                // relu(t) > 0 exactly when t > 0, so the test may read t or relu(t).
                let p = node.inputs[0].id, test = node.inputs[1]
                guard op(p) == .maxpool2dGrad, case .keep = roles[p], uses[p] == 1, users[p] == [i],
                      (g.nodes[p].attributes[.activation] ?? "none") == "none" else { continue }
                let x = g.nodes[p].inputs[1]
                guard x == test || (op(x.id) == .relu && g.nodes[x.id].inputs[0] == test) else { continue }
                roles[p] = .absorbed
                roles[i] = .poolGradient(pool: p)
            default:
                continue
            }
        }
    }

    /// add(acc, additive_scores_grad(...)) in either order, the gradient read by the add alone
    /// and of the add's type, acc of it too. When both operands qualify (a decoder's last two
    /// steps) the later gradient is taken, the earlier one being the sum so far.
    func findAttentionAccumulations(_ roles: inout [Role]) {
        guard !context.options.disabledFusions.contains(.attentionScores) else { return }
        for (i, node) in g.nodes.enumerated() where node.op == .add && node.inputs.count == 2 {
            guard case .keep = roles[i] else { continue }
            for k in node.inputs.indices.sorted(by: { node.inputs[$0].id > node.inputs[$1].id }) {
                let d = node.inputs[k].id, acc = node.inputs[1 - k]
                guard op(d) == .additiveScoresGrad, g.nodes[d].inputs.count == 4, uses[d] == 1, users[d] == [i],
                      case .keep = roles[d], g.nodes[d].type == node.type, g.type(of: acc) == node.type, acc.id != d else { continue }
                roles[d] = .absorbed
                roles[i] = .attentionAccumulation(grad: d, acc: acc)
                break
            }
        }
    }

    /// conv2d(x, w, b) then batch_norm(gamma, beta, mean, var, eps) is conv2d(x, w * s, (b -
    /// mean) * s + beta) with s = gamma / sqrt(var + eps) per output channel (sqrt as
    /// exp(-log(.)/2): the IR has no square root).
    func emitBatchNormFold(_ r: inout GraphRewriter, conv c: Int, root v: Value) throws {
        let conv = g.nodes[c]
        let root = g.nodes[v.id]
        let norm = root.op == .relu ? g[root.inputs[0]] : root
        let b = r.builder(for: norm)
        let x = try r.remap(conv.inputs[0], in: v), w = try r.remap(conv.inputs[1], in: v)
        let stats = try norm.inputs.dropFirst().map { try r.remap($0, in: v) }
        let (gamma, beta, mean, variance) = (stats[0], stats[1], stats[2], stats[3])
        let w2: Value, b2: Value
        do {
            let eps = try b.scalar(norm.attributes[.eps] ?? 1e-5)
            let invStd = try b.emit(.exp, [try b.emit(.scale, [try b.emit(.log, [try b.emit(.add, [variance, eps])])], ["factor": .float(-0.5)])])
            let s = try b.emit(.mul, [gamma, invStd])
            let wt = r.target.type(of: w).shape
            let perChannel = try b.emit(.reshape, [s], ["shape": .shape(Shape([wt[0]] + Array(repeating: .known(1), count: wt.rank - 1)))])
            w2 = try b.emit(.mul, [w, perChannel])
            let shift = conv.inputs.count > 2
                ? try b.emit(.mul, [try b.emit(.sub, [try r.remap(conv.inputs[2], in: v), mean]), s])
                : try b.emit(.neg, [try b.emit(.mul, [mean, s])])
            b2 = try b.emit(.add, [shift, beta])
        } catch {
            throw nodeError("fusion", g, v, "folding batch_norm into its convolution does not type-check: \(error)")
        }
        var attrs = conv.attributes
        attrs["activation"] = .string(root.op == .relu ? "relu" : "none")
        try emit(&r, .fusedConv2d, [x, w2, b2], attrs, like: root, for: v)
    }

    // MARK: - Elementwise trees

    /// The node's program instruction given its operands' registers, from its op's scalar
    /// function (nil: not an elementwise op, or a constant attribute is missing).
    static func instruction(_ node: Node, _ a: Int, _ b: Int) -> ElementwiseInstruction? {
        guard let f = node.op.scalarFunction, node.inputs.count == f.operandCount,
              let k = f.constants(from: node.attributes) else { return nil }
        return ElementwiseInstruction(opcode: f.opcode, a: a, b: f.operandCount > 1 ? b : 0, constants: k)
    }

    /// A node the elementwise fusion may take: an op with a scalar function, on f32 operands
    /// each of the result's shape or a single value.
    func isElementwiseCandidate(_ i: Int) -> Bool {
        let node = g.nodes[i]
        guard node.type.dtype == .f32, Fusion.instruction(node, 0, 0) != nil else { return false }
        return node.inputs.allSatisfy { v in
            let t = g.type(of: v)
            return t.dtype == .f32 && (t.shape == node.type.shape || t.shape.dims.allSatisfy { $0 == .known(1) })
        }
    }

    /// group[i]: the root whose fused kernel computes node i (i itself when alone). A node
    /// joins its only user's group when both are candidates of the same shape. Returns the
    /// groups; marks roots of two or more nodes and their other members.
    func findElementwiseGroups(_ roles: inout [Role]) -> [Int] {
        let n = g.nodes.count
        var group = Array(0..<n)
        if context.options.disabledFusions.contains(.elementwise) { return group }
        var size = [Int](repeating: 1, count: n)
        var candidate = [Bool](repeating: false, count: n)
        for i in 0..<n { if case .keep = roles[i] { candidate[i] = isElementwiseCandidate(i) } }
        for i in stride(from: n - 1, through: 0, by: -1) where candidate[i] {
            guard uses[i] == 1, users[i].count == 1, let u = users[i].first, candidate[u],
                  g.nodes[u].type.shape == g.nodes[i].type.shape, size[group[u]] < Fusion.maxGroup,
                  u - i <= Fusion.maxDistance else { continue }
            group[i] = group[u]
            size[group[u]] += 1
        }
        for i in 0..<n where candidate[i] {
            // A lone op is worth a kernel of its own only when it saves a slice copy.
            if group[i] != i { roles[i] = .absorbed } else if size[i] > 1 || g.nodes[i].inputs.contains(where: { window($0) != nil }) {
                roles[i] = .elementwiseRoot
            }
        }
        return group
    }

    /// A slice of the last axis of an f32 tensor whose width is known: (the sliced value,
    /// the window's start).
    func window(_ v: Value) -> (Int, Int)? {
        let s = g[v]
        guard s.op == .slice, let start = s.attributes[.start], let axis = s.attributes[.axis] else { return nil }
        let source = s.inputs[0], rank = g.type(of: source).rank
        guard rank >= 1, axis == -1 || axis == rank - 1, g.type(of: source).dtype == .f32,
              s.type.shape.dims.last?.value != nil else { return nil }
        return (source.id, start)
    }

    struct Leaf: Hashable {
        let value: Int
        /// Start of the last-axis window read, or -1 for the whole value.
        let offset: Int
    }

    /// The inputs (old value ids, windows) and program of the group rooted at `root`,
    /// operands before users (an explicit stack: chains can be long).
    func elementwiseProgram(root: Int, group: [Int]) throws -> ([Leaf], ElementwiseProgram) {
        var leaves: [Leaf] = [], leafIndex: [Int: Int] = [:], slot: [Leaf: Int] = [:]
        var order: [Int] = []
        var stack: [(Int, Bool)] = [(root, false)]
        while let (i, expanded) = stack.popLast() {
            if expanded { order.append(i); continue }
            stack.append((i, true))
            for v in g.nodes[i].inputs.reversed() where group[v.id] == root && v.id != root { stack.append((v.id, false)) }
        }
        for i in order {
            for v in g.nodes[i].inputs where !(group[v.id] == root && v.id != root) && leafIndex[v.id] == nil {
                let leaf = window(v).map { Leaf(value: $0.0, offset: $0.1) } ?? Leaf(value: v.id, offset: -1)
                if let k = slot[leaf] { leafIndex[v.id] = k; continue }
                slot[leaf] = leaves.count
                leafIndex[v.id] = leaves.count
                leaves.append(leaf)
            }
        }
        var register: [Int: Int] = [:]
        var code: [ElementwiseInstruction] = []
        for i in order {
            let node = g.nodes[i]
            func reg(_ k: Int) -> Int {
                guard k < node.inputs.count else { return 0 }
                let v = node.inputs[k].id
                return register[v] ?? leafIndex[v] ?? 0
            }
            guard let ins = Fusion.instruction(node, reg(0), reg(1)) else {
                throw nodeError("fusion", g, Value(i), "\(node.op.name) cannot be part of a fused elementwise kernel")
            }
            code.append(ins)
            register[i] = leaves.count + code.count - 1
        }
        return (leaves, ElementwiseProgram(inputs: leaves.count, code: code))
    }
}
