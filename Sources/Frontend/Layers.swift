import GraphIR

/// Layer constructors (`Linear(600)`) and what a layer does when called. Parameters are made
/// at the first call, sized from the input, with PyTorch's default initialisers unless the
/// file overrides them (`weightInit: .uniform(-0.1, 0.1)`, `biasInit: .zeros`).
enum Layers {
    static let constructors: Set<String> = ["Linear", "Conv2d", "MaxPool2d", "ReLU", "Sigmoid", "Tanh", "Dropout", "Flatten",
                                            "LogSoftmax", "Softmax", "Embedding", "LSTMCell", "BatchNorm2d", "AdditiveAttention",
                                            "Identity", "Sequential", "Module"]

    private static let inits: [ParamSpec] = [.labelled("bias"), .labelled("weightInit"), .labelled("biasInit")]

    static func construct(_ L: Lowerer, _ name: String, _ args: [EvaluatedArgument], _ pos: Pos) throws -> ModuleInstance {
        func bind(_ spec: [ParamSpec]) throws -> BoundArguments { try BoundArguments(args, spec, callee: name, pos: pos) }
        func initArg(_ a: BoundArguments, _ key: String) throws -> InitSpec? {
            try a.value(key).map { try initSpec($0, a, key, L) }
        }
        let kind: LayerKind
        switch name {
        case "Linear":
            let a = try bind([.positional("features", optional: true), .positional("outFeatures", optional: true), .labelled("in"), .labelled("out")] + inits)
            var inF: Int?, outF: Int
            switch (a.has("features"), a.has("outFeatures"), a.has("in"), a.has("out")) {
            case (true, false, false, false): outF = try a.positiveInt("features")
            case (true, true, false, false): inF = try a.positiveInt("features"); outF = try a.positiveInt("outFeatures")
            case (false, false, _, true): inF = a.has("in") ? try a.positiveInt("in") : nil; outF = try a.positiveInt("out")
            default:
                throw L.error("`Linear` takes `Linear(out)`, `Linear(in, out)` or `Linear(in: n, out: m)`", pos)
            }
            kind = .linear(out: outF, in: inF, bias: try a.bool("bias", default: true),
                           weightInit: try initArg(a, "weightInit"), biasInit: try initArg(a, "biasInit"))
        case "Conv2d":
            let a = try bind([.positional("channels"), .positional("outChannels", optional: true), .labelled("kernel", optional: false),
                              .labelled("stride"), .labelled("padding")] + inits)
            let inC: Int? = a.has("outChannels") ? try a.positiveInt("channels") : nil
            let outC = try a.positiveInt(a.has("outChannels") ? "outChannels" : "channels")
            let k = try a.positiveInt("kernel"), s = try a.positiveInt("stride", default: 1)
            var padding = Padding.explicit(0)
            switch a.value("padding") {
            case nil: break
            case .int(let p)?:
                guard p >= 0 else { throw L.error("padding must be non-negative, got \(p)", a.position("padding")) }
                padding = .explicit(p)
            case .enumCase("same", let e)? where e.isEmpty:
                guard s == 1 else { throw L.error("`padding: .same` needs stride 1 (as in PyTorch), got stride \(s)", a.position("padding")) }
                guard k % 2 == 1 else { throw L.error("`padding: .same` needs an odd kernel size, got \(k)", a.position("padding")) }
                padding = .same
            case .enumCase("valid", let e)? where e.isEmpty: break
            default: throw a.wrongType("padding", "an Int, `.same` or `.valid`")
            }
            kind = .conv2d(out: outC, in: inC, kernel: k, stride: s, padding: padding, bias: try a.bool("bias", default: true),
                           weightInit: try initArg(a, "weightInit"), biasInit: try initArg(a, "biasInit"))
        case "MaxPool2d":
            let a = try bind([.positional("kernel"), .labelled("stride"), .labelled("padding")])
            let k = try a.positiveInt("kernel")
            let p = try a.int("padding", default: 0)
            guard p >= 0, 2 * p <= k else { throw L.error("MaxPool2d padding must be between 0 and half the kernel (\(k)), got \(p)", a.position("padding")) }
            kind = .maxpool2d(kernel: k, stride: try a.positiveInt("stride", default: k), padding: p)
        case "ReLU", "Sigmoid", "Tanh", "Flatten", "Identity":
            _ = try bind([])
            kind = name == "ReLU" ? .activation(.relu) : name == "Sigmoid" ? .activation(.sigmoid)
                : name == "Tanh" ? .activation(.tanh) : name == "Flatten" ? .flatten : .identity
        case "Dropout":
            let a = try bind([.positional("rate", optional: true), .labelled("p")])
            let p = a.has("p") ? try a.double("p") : try a.double("rate", default: 0.5)
            guard p >= 0 && p < 1 else {
                throw L.error("dropout probability must be in [0, 1), got \(p)", a.position(a.has("p") ? "p" : "rate"))
            }
            kind = .dropout(p)
        case "LogSoftmax", "Softmax":
            let a = try bind([.labelled("axis")])
            kind = .softmax(axis: try a.int("axis", default: -1), log: name == "LogSoftmax")
        case "Embedding":
            let a = try bind([.positional("vocab"), .positional("dim"), .labelled("weightInit")])
            kind = .embedding(vocab: try a.positiveInt("vocab"), dim: try a.positiveInt("dim"), weightInit: try initArg(a, "weightInit"))
        case "LSTMCell":
            let a = try bind([.positional("input"), .positional("hidden")])
            kind = .lstmCell(input: try a.positiveInt("input"), hidden: try a.positiveInt("hidden"))
        case "BatchNorm2d":
            let a = try bind([.positional("features", optional: true), .labelled("eps")])
            let eps = try a.double("eps", default: 1e-5)
            guard eps > 0 else { throw L.error("BatchNorm2d eps must be positive", a.position("eps")) }
            kind = .batchNorm(features: a.has("features") ? try a.positiveInt("features") : nil, eps: eps)
        case "AdditiveAttention":
            let a = try bind([.labelled("encoder", optional: false), .labelled("decoder", optional: false), .labelled("attention", optional: false)])
            let e = try a.positiveInt("encoder"), d = try a.positiveInt("decoder"), h = try a.positiveInt("attention")
            let m = L.register(ModuleInstance(kind: .attention(encoder: e, decoder: d, attention: h), typeName: name, pos: pos))
            // The children PyTorch's Attention class has, in its order.
            for (child, inF, outF) in [("encoder_att", e, h), ("decoder_att", d, h), ("full_att", h, 1)] {
                let c = L.register(ModuleInstance(kind: .linear(out: outF, in: inF, bias: true, weightInit: nil, biasInit: nil), typeName: "Linear", pos: pos))
                m.adopt(c, as: child)
                m.builtinChildren.append(c)
            }
            return m
        default:
            throw L.error("unknown layer `\(name)`", pos)
        }
        return L.register(ModuleInstance(kind: kind, typeName: name, pos: pos))
    }

    /// `.uniform(-0.1, 0.1)`, `.uniform(0.1)`, `.normal(1.0)`, `.zeros`, `.ones`.
    static func initSpec(_ v: Val, _ a: BoundArguments, _ key: String, _ L: Lowerer) throws -> InitSpec {
        let want = "an initialiser: `.uniform(-a, a)`, `.normal(std)`, `.zeros` or `.ones`"
        guard case .enumCase(let n, let args) = v else { throw a.wrongType(key, want) }
        func num(_ x: Val) -> Double? {
            switch x { case .int(let i): return Double(i); case .float(let d): return d; default: return nil }
        }
        let nums = args.compactMap(num)
        guard nums.count == args.count else { throw a.wrongType(key, want) }
        switch (n, nums.count) {
        case ("zeros", 0): return .zeros
        case ("ones", 0): return .ones
        case ("uniform", 1) where nums[0] > 0: return .uniform(bound: nums[0])
        case ("uniform", 2) where nums[0] == -nums[1] && nums[1] > 0: return .uniform(bound: nums[1])
        case ("uniform", 2):
            throw L.error("`.uniform(low, high)` must be symmetric around zero, got (\(nums[0]), \(nums[1]))", a.position(key))
        case ("normal", 1) where nums[0] > 0: return .normal(std: nums[0])
        default: throw a.wrongType(key, want)
        }
    }

    // MARK: containers

    static func sequential(_ L: Lowerer, _ c: Closure, _ scope: Scope, _ pos: Pos) throws -> Val {
        guard c.params.isEmpty else { throw L.error("`Sequential { ... }` takes no closure parameters", c.pos) }
        let seq = L.register(ModuleInstance(kind: .sequential([]), typeName: "Sequential", pos: pos))
        var children: [ModuleInstance] = []
        let inner = Scope(parent: scope, frame: scope.frame)
        for s in c.body {
            guard case .expression(let e) = s.kind else {
                throw L.error("`Sequential { ... }` lists layers, one per line; declarations and statements are not allowed here", s.pos)
            }
            let v = try L.eval(e, inner)
            guard case .module(let m) = v else {
                throw L.error("`Sequential` items must be layers, got \(describeValue(v))", e.pos)
            }
            if m.localName == nil && !m.called { seq.adopt(m, as: String(children.count)) }
            children.append(m)
        }
        guard !children.isEmpty else { throw L.error("`Sequential { }` needs at least one layer", pos) }
        seq.kind = .sequential(children)
        return .module(seq)
    }

    /// `Module { x in ... }`: in a `func ... -> Module` it completes the module the function is
    /// building (its `let` layers are the children); elsewhere it makes an anonymous module.
    static func module(_ L: Lowerer, _ c: Closure, _ scope: Scope, _ pos: Pos) throws -> Val {
        guard !c.params.isEmpty else { throw L.error("`Module { x in ... }` needs at least one input name", c.pos) }
        if scope.frame.buildsModule, case .pending = scope.frame.owner.kind {
            scope.frame.owner.kind = .custom(c, scope)
            return .module(L.register(scope.frame.owner))
        }
        return .module(L.register(ModuleInstance(kind: .custom(c, scope), typeName: "Module", pos: pos)))
    }

    // MARK: forward

    static func forward(_ L: Lowerer, _ m: ModuleInstance, _ args: [EvaluatedArgument], _ scope: Scope, _ pos: Pos) throws -> Val {
        let label = "\(m.typeName) `\(m.path.isEmpty ? m.typeName : m.path)`"
        func tensorArgs(_ n: Int) throws -> [Value] {
            guard args.count == n else {
                throw L.error("\(label) takes \(n) input\(n == 1 ? "" : "s"), got \(args.count)", pos)
            }
            return try args.map { a in
                guard case .tensor(let t) = a.value else {
                    throw L.error("\(label) expects a tensor, got \(describeValue(a.value))", a.pos)
                }
                return t
            }
        }
        func type(_ t: Value) -> TensorType { L.builder.type(of: t) }
        func emit(_ op: OpDef, _ ins: [Value], _ attrs: Attributes = Attributes()) throws -> Value {
            try L.emit(op, ins, attrs, at: pos, context: label)
        }
        func param(_ local: String, _ shape: Shape, _ spec: InitSpec, buffer: Bool = false) throws -> Value {
            if let p = m.params[local] { return p }
            return try L.parameter(m, local, shape, spec, buffer: buffer, at: m.pos)
        }
        /// The known size of `t`'s axis, or a located error.
        func size(_ t: Value, axis: Int, _ what: String) throws -> Int {
            let s = type(t).shape
            let ax = axis < 0 ? axis + s.rank : axis
            guard ax >= 0, ax < s.rank, let n = s[ax].value else {
                throw L.error("\(label): the input \(type(t)) needs a known \(what) dimension", pos)
            }
            return n
        }

        switch m.kind {
        case .linear(let outF, let inF, let bias, let wInit, let bInit):
            let x = try tensorArgs(1)[0]
            guard type(x).rank >= 2 else { throw L.error("\(label) expects an input of rank 2 or more ([batch, features]), got \(type(x))", pos) }
            let k = try size(x, axis: -1, "feature (last)")
            if let declared = inF, declared != k {
                throw L.error("\(label): declared with \(declared) input features (weight [\(outF),\(declared)]) but its input \(type(x)) has \(k)", pos,
                              notes: ["the layer is declared at line \(m.pos.line), column \(m.pos.column)"])
            }
            let bound = 1 / Double(inF ?? k).squareRoot()
            let w = try param("weight", Shape(known: [outF, k]), wInit ?? .uniform(bound: bound))
            var y = try emit(.matmul, [x, w], ["transpose_b": .bool(true)])
            if bias { y = try emit(.add, [y, try param("bias", Shape(known: [outF]), bInit ?? .uniform(bound: bound))]) }
            return .tensor(y)

        case .conv2d(let outC, let inC, let k, let stride, let padding, let bias, let wInit, let bInit):
            let x = try tensorArgs(1)[0]
            guard type(x).rank == 4 else { throw L.error("\(label) expects an input [batch, channels, height, width], got \(type(x))", pos) }
            let c = try size(x, axis: 1, "channel")
            if let declared = inC, declared != c {
                throw L.error("\(label): declared with \(declared) input channels but its input \(type(x)) has \(c)", pos)
            }
            let pad: Int
            switch padding { case .explicit(let p): pad = p; case .same: pad = (k - 1) / 2 }
            let bound = 1 / (Double(c) * Double(k) * Double(k)).squareRoot()
            var ins = [x, try param("weight", Shape(known: [outC, c, k, k]), wInit ?? .uniform(bound: bound))]
            if bias { ins.append(try param("bias", Shape(known: [outC]), bInit ?? .uniform(bound: bound))) }
            return .tensor(try emit(.conv2d, ins, ["stride": .ints([stride, stride]), "padding": .ints([pad, pad])]))

        case .maxpool2d(let k, let s, let p):
            let x = try tensorArgs(1)[0]
            return .tensor(try emit(.maxpool2d, [x], ["kernel": .ints([k, k]), "stride": .ints([s, s]), "padding": .ints([p, p])]))

        case .activation(let op):
            return .tensor(try emit(op, try tensorArgs(1)))

        case .dropout(let p):
            return .tensor(try Builtins.dropout(L, try tensorArgs(1)[0], p, at: pos, argPos: m.pos))

        case .flatten:
            return .tensor(try Builtins.flatten(L, try tensorArgs(1)[0], at: pos))

        case .softmax(let axis, let log):
            let x = try tensorArgs(1)[0]
            return .tensor(try emit(log ? .logSoftmax : .softmax, [x], ["axis": .int(L.axis(axis, of: x))]))

        case .embedding(let vocab, let dim, let wInit):
            let ids = try tensorArgs(1)[0]
            guard type(ids).dtype == .i64 else { throw L.error("\(label) expects i64 token ids, got \(type(ids))", pos) }
            let w = try param("weight", Shape(known: [vocab, dim]), wInit ?? .normal(std: 1))
            return .tensor(try emit(.embedding, [ids, w]))

        case .lstmCell(let inF, let hidden):
            return try lstmCell(L, m, args, inF: inF, hidden: hidden, label: label, pos: pos, emit: emit, param: param)

        case .batchNorm(let features, let eps):
            let x = try tensorArgs(1)[0]
            // As torch.nn.BatchNorm2d: statistics per channel of [N, C, H, W] images only.
            guard type(x).shape.rank == 4 else { throw L.error("\(label) expects a 4-D input [N, C, H, W], got \(type(x))", pos) }
            let c = try size(x, axis: 1, "channel")
            if let declared = features, declared != c {
                throw L.error("\(label): declared with \(declared) features but its input \(type(x)) has \(c) channels", pos)
            }
            let shape = Shape(known: [c])
            let ins = [x, try param("weight", shape, .ones), try param("bias", shape, .zeros),
                       try param("running_mean", shape, .zeros, buffer: true), try param("running_var", shape, .ones, buffer: true)]
            return .tensor(try emit(.batchNorm, ins, ["eps": .float(eps)]))

        case .attention(let e, let d, _):
            return try attention(L, m, args, encoder: e, decoder: d, label: label, scope: scope, pos: pos, emit: emit)

        case .sequential(let children):
            var v: Val = .tensor(try tensorArgs(1)[0])
            // A child's nodes and errors point at the line that declares it inside the block.
            for child in children {
                v = try L.callModule(child, [EvaluatedArgument(label: nil, value: v, pos: child.pos)], scope, child.pos)
            }
            return v

        case .custom(let closure, let captured):
            guard args.count == closure.params.count else {
                throw L.error("\(label) takes \(closure.params.count) input\(closure.params.count == 1 ? "" : "s"), got \(args.count)", pos)
            }
            let inner = Scope(parent: captured, frame: Frame(owner: m, buildsModule: false))
            for (i, (n, a)) in zip(closure.params, args).enumerated() where n != "_" {
                var v = a.value.copied()
                if i < closure.types.count, let t = closure.types[i] {
                    v = try L.coerce(v, to: t, at: a.pos, what: "input `\(n)` of \(label)")
                }
                inner.vars[n] = Variable(value: v, isLet: true)
            }
            let flow = try L.traced("\(label) called", pos) { try L.exec(closure.body, inner) }
            if case .returned(let v, _) = flow, !isVoid(v) { return v }
            // A single-expression body returns its value, as in Swift.
            if closure.body.count == 1, case .expression(let e) = closure.body[0].kind {
                return try L.eval(e, inner)
            }
            throw L.error("\(label): the forward closure must `return` its result", closure.pos)

        case .identity:
            return .tensor(try tensorArgs(1)[0])

        case .pending:
            throw L.error("\(label) is still being defined; it cannot be called inside its own function", pos)
        }
    }

    private static func isVoid(_ v: Val) -> Bool { if case .void = v { return true }; return false }

    /// PyTorch's LSTMCell: gates = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh, split i, f, g, o.
    private static func lstmCell(_ L: Lowerer, _ m: ModuleInstance, _ args: [EvaluatedArgument], inF: Int, hidden: Int, label: String, pos: Pos,
                                 emit: (OpDef, [Value], Attributes) throws -> Value,
                                 param: (String, Shape, InitSpec, Bool) throws -> Value) throws -> Val {
        guard args.count == 2, case .tensor(let x) = args[0].value, case .tuple(let state) = args[1].value, state.count == 2,
              case .tensor(let h) = state[0], case .tensor(let c) = state[1] else {
            throw L.error("\(label) is called as `cell(x, (h, c))` and returns `(h, c)`", pos)
        }
        let xt = L.builder.type(of: x), ht = L.builder.type(of: h), ct = L.builder.type(of: c)
        guard xt.rank == 2, xt.shape[1] == .known(inF) else {
            throw L.error("\(label) expects input [batch, \(inF)], got \(xt)", args[0].pos)
        }
        guard ht.rank == 2, ht.shape[1] == .known(hidden), ct.shape == ht.shape else {
            throw L.error("\(label) expects state (h, c) of shape [batch, \(hidden)], got (\(ht), \(ct))", args[1].pos)
        }
        let bound = 1 / Double(hidden).squareRoot()
        let u = InitSpec.uniform(bound: bound)
        let wih = try param("weight_ih", Shape(known: [4 * hidden, inF]), u, false)
        let whh = try param("weight_hh", Shape(known: [4 * hidden, hidden]), u, false)
        let bih = try param("bias_ih", Shape(known: [4 * hidden]), u, false)
        let bhh = try param("bias_hh", Shape(known: [4 * hidden]), u, false)
        let tb: Attributes = ["transpose_b": .bool(true)]
        let gi = try emit(.add, [try emit(.matmul, [x, wih], tb), bih], [:])
        let gh = try emit(.add, [try emit(.matmul, [h, whh], tb), bhh], [:])
        let gates = try emit(.add, [gi, gh], [:])
        func gate(_ k: Int) throws -> Value {
            try emit(.slice, [gates], ["axis": .int(1), "start": .int(k * hidden), "end": .int((k + 1) * hidden)])
        }
        let i = try emit(.sigmoid, [try gate(0)], [:])
        let f = try emit(.sigmoid, [try gate(1)], [:])
        let g = try emit(.tanh, [try gate(2)], [:])
        let o = try emit(.sigmoid, [try gate(3)], [:])
        let c2 = try emit(.add, [try emit(.mul, [f, c], [:]), try emit(.mul, [i, g], [:])], [:])
        let h2 = try emit(.mul, [o, try emit(.tanh, [c2], [:])], [:])
        return .tuple([.tensor(h2), .tensor(c2)])
    }

    /// Show-attend-tell additive attention: alpha = softmax(full_att(relu(encoder_att(a) +
    /// decoder_att(h)))) over regions; context = sum of regions weighted by alpha.
    private static func attention(_ L: Lowerer, _ m: ModuleInstance, _ args: [EvaluatedArgument], encoder: Int, decoder: Int, label: String,
                                  scope: Scope, pos: Pos, emit: (OpDef, [Value], Attributes) throws -> Value) throws -> Val {
        guard args.count == 2, case .tensor(let feats) = args[0].value, case .tensor(let h) = args[1].value else {
            throw L.error("\(label) is called as `attention(features, h)` and returns `(context, alpha)`", pos)
        }
        let ft = L.builder.type(of: feats), ht = L.builder.type(of: h)
        guard ft.rank == 3, ft.shape[2] == .known(encoder) else {
            throw L.error("\(label) expects features [batch, regions, \(encoder)], got \(ft)", args[0].pos)
        }
        guard ht.rank == 2, ht.shape[1] == .known(decoder), ht.shape[0] == ft.shape[0] else {
            throw L.error("\(label) expects a decoder state [\(ft.shape[0]), \(decoder)], got \(ht)", args[1].pos)
        }
        guard m.builtinChildren.count == 3 else { throw L.error("\(label) is malformed", pos) }
        func call(_ child: ModuleInstance, _ v: Value) throws -> Value {
            let r = try L.callModule(child, [EvaluatedArgument(label: nil, value: .tensor(v), pos: pos)], scope, pos)
            guard case .tensor(let t) = r else { throw L.error("\(label): internal layer returned no tensor", pos) }
            return t
        }
        let batch = ft.shape[0], regions = ft.shape[1]
        // The encoder projection depends only on the features: computed once per features
        // tensor, not once per unrolled step (the original recomputes it every step).
        let att1: Value
        if let cached = m.encoderProjections[feats] { att1 = cached } else {
            att1 = try call(m.builtinChildren[0], feats)                        // [B, N, A]
            m.encoderProjections[feats] = att1
        }
        let att2 = try call(m.builtinChildren[1], h)                           // [B, A]
        let a = L.builder.type(of: att2).shape[1]
        let att2r = try emit(.reshape, [att2], ["shape": .shape(Shape([batch, .known(1), a]))])
        let hidden = try emit(.relu, [try emit(.add, [att1, att2r], [:])], [:])
        let scores = try call(m.builtinChildren[2], hidden)                    // [B, N, 1]
        let flat = try emit(.reshape, [scores], ["shape": .shape(Shape([batch, regions]))])
        let alpha = try emit(.softmax, [flat], ["axis": .int(1)])
        let weights = try emit(.reshape, [alpha], ["shape": .shape(Shape([batch, regions, .known(1)]))])
        let context = try emit(.sum, [try emit(.mul, [feats, weights], [:])], ["axes": .ints([1]), "keepdims": .bool(false)])
        return .tuple([.tensor(context), .tensor(alpha)])
    }
}
