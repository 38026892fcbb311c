import GraphIR

/// `blocked-layout`: runs the convolutions of an inference graph in the blocked channel
/// layout [N, C/16, H, W, 16] (`blocked_conv2d`), with the BatchNorm, bias, residual add and
/// ReLU that follow a convolution applied as it stores its result. Chains of convolutions and
/// max pooling stay blocked; a value is reordered into the blocked layout once, where a
/// chain starts, and back once, where something else reads it. Only inference pipelines run
/// it (the blocked ops have no gradients; training graphs keep conv2d).
///
///     %c = conv2d(%x, %w) {stride=[1,1], padding=[1,1]} : f32[B,64,125,125]
///     %n = batch_norm(%c, %g, %b, %m, %v) {eps=1e-05} : f32[B,64,125,125]
///     %s = add(%n, %r) : f32[B,64,125,125]
///     %y = relu(%s) : f32[B,64,125,125]
/// becomes
///     %xb = reorder_to_blocked(%x) : f32[B,4,125,125,16]      // unless %x is already blocked
///     %wp = pack_conv_weight(%w) {in_block=16} : f32[4,4,3,3,16,16]
///     ... scale = g * (v + eps)^-1/2, shift = b - m * scale (exp, log, mul, sub on [64])
///     %yb = blocked_conv2d(%xb, %wp, %scale, %shift, %rb) {stride=[1,1], padding=[1,1], activation="relu"} : f32[B,4,125,125,16]
///     %y = reorder_from_blocked(%yb) : f32[B,64,125,125]     // only if a plain reader remains
///
/// A convolution is blocked when its output channels are a multiple of 16 and its input's
/// are too, or fewer than 16 (an image's colour channels, read in place as [N, C, H, W]).
///
/// Each such convolution runs as `PassOptions.convolutionChooser` picks (the tuner measures
/// the layer's candidates; nil: the fixed default, `blocked`): `blocked_conv2d`, Winograd
/// for a 3x3 stride-1 layer over a blocked input, or conv2d left as it is (im2col). The
/// chooser is told when a 2x2 max pooling alone reads the layer (`ConvolutionLayer.pool`),
/// which `fuse-conv-pool` folds into a blocked convolution's store:
///     %u = winograd_weight_transform(%w) : f32[36,4,64,16]
///     %yb = winograd_conv2d(%xb, %u, %scale, %shift, %rb) {stride=[1,1], padding=[1,1], activation="relu"} : f32[B,4,125,125,16]
/// Linear: one scan in graph order, each value reordered at most once each way.
extension Pass {
    public static let blockedLayout = Pass(name: "blocked-layout", summary: "run convolutions in the blocked NCHW16c layout with BatchNorm, residual and ReLU fused") { g, context in
        try BlockedLayout(g, context).run()
    }
}

struct BlockedLayout {
    let g: Graph
    let context: PassContext
    let uses: [Int]
    let users: [[Int]]

    init(_ g: Graph, _ context: PassContext) {
        self.g = g; self.context = context
        uses = context.useCounts(g); users = context.users(g)
    }

    /// A convolution and what follows it into its store.
    struct Chain {
        var conv: Int
        var norm: Int?
        var residual: Value?
        var relu: Bool
        /// How the convolution runs (never `.im2col`: such a convolution forms no chain).
        var algorithm: ConvolutionAlgorithm = .blocked
        /// The last node of the chain: its value is the blocked convolution's.
        var end: Int
        /// Every node of the chain, the convolution first.
        var nodes: [Int]
    }

    func run() throws -> Graph {
        var chains: [Int: Chain] = [:]   // by end node
        var absorbed = Set<Int>()
        var claimed = Set<Int>()         // nodes already in a chain (the add of a residual block ends one only)
        var im2col = Set<Int>()          // convolutions the chooser gave to im2col: marked so, not re-measured at run time
        for (i, node) in g.nodes.enumerated() where node.op == .conv2d && blockable(node) {
            var chain = self.chain(from: i, claimed: claimed)
            chain.algorithm = algorithm(for: chain)
            if chain.algorithm == .im2col {
                context.count("convolutions left to im2col")
                im2col.insert(i)
                continue
            }
            chains[chain.end] = chain
            claimed.formUnion(chain.nodes)
            for n in chain.nodes.dropLast() { absorbed.insert(n) }
        }
        guard !chains.isEmpty || !im2col.isEmpty else { return g }
        var r = GraphRewriter(g, pass: "blocked-layout")
        var blocked = [Value?](repeating: nil, count: g.nodes.count)   // old value -> its blocked form
        var plainMissing = Set<Int>()                                   // blocked only, so far

        func plain(_ v: Value, for user: Node) throws -> Value {
            if plainMissing.contains(v.id), let b = blocked[v.id] {
                let p = try r.builder(for: user).emit(.reorderFromBlocked, [b])
                r.forward(v, to: p)
                plainMissing.remove(v.id)
                context.count("reorders from blocked")
            }
            guard let m = r.map[v.id] else {
                throw PassError(pass: "blocked-layout", "\(v) is read by \(user.op.name) before it is computed")
            }
            return m
        }
        func toBlocked(_ v: Value, for user: Node) throws -> Value {
            if let b = blocked[v.id] { return b }
            let b = try r.builder(for: user).emit(.reorderToBlocked, [try plain(v, for: user)])
            blocked[v.id] = b
            context.count("reorders to blocked")
            return b
        }

        /// The blocked convolution of `chain`: scale and shift from the BatchNorm and bias.
        func emitChain(_ chain: Chain) throws -> Value {
            let conv = g.nodes[chain.conv]
            let end = g.nodes[chain.end]
            let channels = g.type(of: conv.inputs[1]).shape.dims[1].value ?? 0
            let x = channels < channelBlock ? try plain(conv.inputs[0], for: conv) : try toBlocked(conv.inputs[0], for: conv)
            let residual = try chain.residual.map { try toBlocked($0, for: end) }
            let b = r.builder(for: end)
            do {
                let winograd = chain.algorithm == .winograd
                let weight = try plain(conv.inputs[1], for: conv)
                let w = winograd ? try b.emit(.winogradWeightTransform, [weight])
                    : try b.emit(.packConvWeight, [weight], ["in_block": .int(channels < channelBlock ? 1 : channelBlock)])
                let bias = try conv.inputs.count > 2 ? plain(conv.inputs[2], for: conv) : nil
                var scale: Value, shift: Value
                if let n = chain.norm {
                    let norm = g.nodes[n]
                    let stats = try norm.inputs.dropFirst().map { try plain($0, for: norm) }
                    let eps = try b.scalar(norm.attributes[.eps] ?? 1e-5)
                    let invStd = try b.emit(.exp, [try b.emit(.scale, [try b.emit(.log, [try b.emit(.add, [stats[3], eps])])], ["factor": .float(-0.5)])])
                    scale = try b.emit(.mul, [stats[0], invStd])
                    // (bias - mean) * scale + beta
                    let centred = try bias.map { try b.emit(.sub, [$0, stats[2]]) } ?? b.emit(.neg, [stats[2]])
                    shift = try b.emit(.add, [try b.emit(.mul, [centred, scale]), stats[1]])
                } else {
                    scale = try b.scalar(1)
                    shift = try bias ?? b.scalar(0)
                }
                var attrs = withPlainPadding(conv.attributes)
                attrs["activation"] = .string(chain.relu ? "relu" : "none")
                return try b.emit(winograd ? .winogradConv2d : .blockedConv2d, [x, w, scale, shift] + (residual.map { [$0] } ?? []), attrs)
            } catch {
                throw nodeError("blocked-layout", g, Value(chain.end), "the blocked convolution does not type-check: \(error)")
            }
        }

        for v in g.values {
            let node = g[v]
            if absorbed.contains(v.id) { continue }
            if let chain = chains[v.id] {
                let y = try emitChain(chain)
                blocked[v.id] = y
                plainMissing.insert(v.id)
                context.count(chain.algorithm == .winograd ? "convolutions by Winograd" : "convolutions blocked")
                continue
            }
            if node.op == .maxpool2d, let b = blocked[node.inputs[0].id], plainWindow(node.attributes) {
                var attributes = withPlainPadding(node.attributes)
                attributes[.dilation] = nil
                attributes[.ceilMode] = nil
                blocked[v.id] = try r.builder(for: node).emit(.blockedMaxpool2d, [b], attributes)
                plainMissing.insert(v.id)
                context.count("poolings blocked")
                continue
            }
            var copy = node
            copy.inputs = try node.inputs.map { try plain($0, for: node) }
            if im2col.contains(v.id) { copy.attributes[.convolutionForm] = ConvolutionForm.im2col.rawValue }
            r.emit(copy, for: v)
        }
        for o in g.outputs { _ = try plain(o.value, for: g[o.value]) }
        if let l = g.loss { _ = try plain(l, for: g[l]) }
        return try r.finish()
    }

    /// The windows the blocked kernels compute: one group, no dilation, the same padding at
    /// both ends of an axis, no ceil mode (ONNX models bring all of these to conv2d and maxpool2d).
    func plainWindow(_ a: Attributes) -> Bool {
        (a[.groups] ?? 1) == 1 && (a[.dilation] ?? [1, 1]).allSatisfy { $0 == 1 }
            && symmetricPadding(a) != nil && !(a[.ceilMode] ?? false)
    }

    /// The padding as [h, w] when both ends of each axis get the same: written so, or as
    /// [top, left, bottom, right] with top == bottom and left == right (as ONNX's importer
    /// writes every Conv's pads); nil otherwise.
    func symmetricPadding(_ a: Attributes) -> [Int]? {
        guard let p = a[.padding] else { return [0, 0] }
        if p.count == 2 { return p }
        return p.count == 4 && p[0] == p[2] && p[1] == p[3] ? [p[0], p[1]] : nil
    }

    /// A plain window's attributes as the blocked ops take them: padding as [h, w], and no
    /// groups or dilation (both 1 in a plain window).
    func withPlainPadding(_ a: Attributes) -> Attributes {
        var a = a
        if let p = symmetricPadding(a) { a[.padding] = p }
        a[.groups] = nil
        a[.dilation] = nil
        return a
    }

    /// Output channels a multiple of 16, input channels too or fewer than 16, every size known,
    /// a plain window.
    func blockable(_ node: Node) -> Bool {
        guard plainWindow(node.attributes) else { return false }
        let x = g.type(of: node.inputs[0]).shape.dims, w = g.type(of: node.inputs[1]).shape.dims
        guard x.count == 4, w.count == 4, node.type.dtype == .f32,
              let o = w[0].value, let c = w[1].value, w[2].value != nil, w[3].value != nil,
              x[2].value != nil, x[3].value != nil else { return false }
        return o % channelBlock == 0 && (c % channelBlock == 0 || c < channelBlock)
    }

    /// The algorithm the chooser picks for `chain`'s convolution among those that compute it:
    /// blocked (the default), Winograd for 3x3 stride-1 over a blocked input, im2col.
    func algorithm(for chain: Chain) -> ConvolutionAlgorithm {
        let node = g.nodes[chain.conv]
        let x = g.type(of: node.inputs[0]).shape.dims, w = g.type(of: node.inputs[1]).shape.dims
        let c = w[1].value ?? 0
        let stride = node.attributes[.stride] ?? [1, 1], padding = symmetricPadding(node.attributes) ?? [0, 0]
        let layer = ConvolutionLayer(batch: x[0].value ?? context.options.batchSize ?? 1, inChannels: c,
                                     height: x[2].value ?? 0, width: x[3].value ?? 0, outChannels: w[0].value ?? 0,
                                     kernel: [w[2].value ?? 0, w[3].value ?? 0], stride: stride, padding: padding,
                                     residual: chain.residual != nil, relu: chain.relu, pool: pooledAlone(chain))
        var candidates: [ConvolutionAlgorithm] = [.blocked]
        if layer.kernel == [3, 3], stride == [1, 1], c % channelBlock == 0 { candidates.append(.winograd) }
        candidates.append(.im2col)
        guard let choose = context.options.convolutionChooser else { return .blocked }
        let chosen = choose(layer, candidates)
        return candidates.contains(chosen) ? chosen : .blocked
    }

    /// Whether a 2x2 stride-2 unpadded max pooling is the one reader of `chain`'s result (which
    /// has no residual): `fuse-conv-pool` then pools in a blocked convolution's store, so the
    /// chooser weighs that against the other algorithms with the pooling after.
    func pooledAlone(_ chain: Chain) -> Bool {
        guard chain.residual == nil, uses[chain.end] == 1, users[chain.end].count == 1 else { return false }
        let pool = g.nodes[users[chain.end][0]]
        return pool.op == .maxpool2d && plainWindow(pool.attributes) && pool.attributes[.kernelSize] == [2, 2]
            && pool.attributes[.stride] == [2, 2] && symmetricPadding(pool.attributes) == [0, 0]
    }

    /// conv2d, then a batch_norm reading only it, then an add of a same-shaped value, then a
    /// relu, each joining only when it is the one reader of the value before and no earlier
    /// chain has it (of a residual block's two convolutions, the first in graph order takes the add).
    func chain(from conv: Int, claimed: Set<Int>) -> Chain {
        var chain = Chain(conv: conv, norm: nil, residual: nil, relu: false, end: conv, nodes: [conv])
        func soleUser(_ n: Int) -> Int? {
            uses[n] == 1 && users[n].count == 1 && !claimed.contains(users[n][0]) ? users[n][0] : nil
        }
        let type = g.nodes[conv].type
        if let u = soleUser(chain.end), g.nodes[u].op == .batchNorm, g.nodes[u].inputs[0].id == chain.end,
           g.nodes[u].inputs.dropFirst().allSatisfy({ g.type(of: $0).shape == Shape([type.shape[1]]) }) {
            chain.norm = u; chain.end = u; chain.nodes.append(u)
        }
        if let u = soleUser(chain.end), g.nodes[u].op == .add, g.nodes[u].type == type {
            let ins = g.nodes[u].inputs
            let other = ins[0].id == chain.end ? ins[1] : ins[0]
            if other.id != chain.end, g.type(of: other) == type { chain.residual = other; chain.end = u; chain.nodes.append(u) }
        }
        if let u = soleUser(chain.end), g.nodes[u].op == .relu { chain.relu = true; chain.end = u; chain.nodes.append(u) }
        return chain
    }
}
