import GraphIR

/// Builtin functions: declarations (`input`, `loss`, `output`, `train`), tensor operations,
/// and compile-time arithmetic helpers. Tensor methods (`x.mean(axis: 1)`) are the same
/// functions with the tensor as first argument.
enum Builtins {
    private static let x = ParamSpec.positional("x")
    private static let axisOpt = ParamSpec.labelled("axis")

    static let functions: [String: [ParamSpec]] = [
        "input": [.positional("name"), .positional("shape"), .positional("dtype", optional: true)],
        "Parameter": [.positional("name"), .positional("shape"), .labelled("init")],
        "loss": [.positional("value")],
        "output": [.positional("name"), .positional("value")],
        "train": [.labelled("on", optional: false), .labelled("metric"), .labelled("epochs"), .labelled("batchSize"),
                  .labelled("lr"), .labelled("optimizer"), .labelled("momentum"), .labelled("weightDecay"),
                  .labelled("gradClip"), .labelled("dropout"), .labelled("seed"), .labelled("maxLen")],
        "matmul": [.positional("a"), .positional("b")],
        "transpose": [x, .positional("dim0", optional: true), .positional("dim1", optional: true)],
        "permute": [x, .positional("perm")],
        "reshape": [x, .positional("shape")],
        "flatten": [x],
        "relu": [x], "sigmoid": [x], "tanh": [x], "exp": [x], "log": [x],
        "softmax": [x, axisOpt], "logSoftmax": [x, axisOpt],
        "mean": [x, axisOpt, .labelled("axes"), .labelled("keepdims")],
        "sum": [x, axisOpt, .labelled("axes"), .labelled("keepdims")],
        "argmax": [x, axisOpt],
        "clamp": [x, .labelled("min", optional: false), .labelled("max", optional: false)],
        "dropout": [x, .positional("p")],
        "stack": [.positional("tensors"), axisOpt],
        "nllLoss": [.positional("logProbs"), .positional("targets"), .labelled("ignoring")],
        "crossEntropy": [.positional("scores"), .positional("targets"), .labelled("ignoring")],
        "sqrt": [.positional("value")],
        "stride": [.labelled("from", optional: false), .labelled("to", optional: true), .labelled("through", optional: true), .labelled("by", optional: false)],
        "Double": [.positional("value")], "Float": [.positional("value")], "Int": [.positional("value")],
        "min": [.positional("a"), .positional("b")], "max": [.positional("a"), .positional("b")],
        // concat is variadic: `concat(a, b, axis: -1)` or `concat([a, b], axis: -1)`.
        "concat": [],
    ]

    static let methods: Set<String> = ["matmul", "transpose", "permute", "reshape", "flatten", "relu", "sigmoid", "tanh", "exp", "log",
                                       "softmax", "logSoftmax", "mean", "sum", "argmax", "clamp"]

    static func call(_ L: Lowerer, _ name: String, _ args: [EvaluatedArgument], _ scope: Scope, _ pos: Pos) throws -> Val {
        if name == "concat" { return try concat(L, args, pos) }
        guard let spec = functions[name] else { throw L.error("cannot find `\(name)` in scope", pos) }
        let a = try BoundArguments(args, spec, callee: name, pos: pos)
        switch name {
        case "input": return try input(L, a, pos)
        case "Parameter":
            let shape = try L.shapeValue(a, "shape", allowHole: false)
            let initSpec = try a.value("init").map { try Layers.initSpec($0, a, "init", L) } ?? .normal(std: 1)
            let name = try a.string("name")
            guard !name.isEmpty else { throw L.error("a parameter needs a non-empty name", a.position("name")) }
            let v = try L.parameter(nil, name, shape, initSpec, at: pos)
            // A free parameter is a row of its own in the layer table.
            L.rows.append(LayerSummaryRow(name: name, type: "Parameter", outputShape: shape, parameters: shape.knownCount ?? 0,
                                          buffers: 0, depth: 0))
            return .tensor(v)
        case "loss":
            let t = try a.tensor("value")
            let type = L.builder.type(of: t)
            guard type.rank == 0, type.dtype == .f32 else {
                throw L.error("the loss must be an f32 scalar, got \(type)", a.position("value"))
            }
            if let lp = L.lossPos { throw L.error("the loss is already declared at line \(lp.line)", pos) }
            L.lossPos = pos
            L.builder.loss = t
            return .void
        case "output":
            let n = try a.string("name"), t = try a.tensor("value")
            guard !n.isEmpty else { throw L.error("an output needs a non-empty name", a.position("name")) }
            guard !L.outputNames.contains(n) else { throw L.error("an output named \"\(n)\" is already declared", pos) }
            L.outputNames.insert(n)
            L.builder.outputs.append((name: n, value: t))
            return .void
        case "train": return try train(L, args, pos)  // labels were checked by the binding above
        case "matmul":
            return .tensor(try L.emit(.matmul, [try a.tensor("a"), try a.tensor("b")], at: pos))
        case "transpose":
            let t = try a.tensor("x")
            let r = L.builder.type(of: t).rank
            var perm = Array(0..<r)
            let d0 = a.has("dim0") ? try a.int("dim0") : r - 2
            let d1 = a.has("dim1") ? try a.int("dim1") : r - 1
            let n0 = d0 < 0 ? d0 + r : d0, n1 = d1 < 0 ? d1 + r : d1
            guard r >= 2, (0..<r).contains(n0), (0..<r).contains(n1) else {
                throw L.error("transpose: dimensions \(d0) and \(d1) are out of range for \(L.builder.type(of: t))", pos)
            }
            perm.swapAt(n0, n1)
            return .tensor(try L.emit(.transpose, [t], ["perm": .ints(perm)], at: pos))
        case "permute":
            return .tensor(try L.emit(.transpose, [try a.tensor("x")], ["perm": .ints(try L.intList(a, "perm"))], at: pos))
        case "reshape":
            return .tensor(try L.emit(.reshape, [try a.tensor("x")], ["shape": .shape(try L.shapeValue(a, "shape", allowHole: true))], at: pos))
        case "flatten":
            return .tensor(try flatten(L, try a.tensor("x"), at: pos))
        case "relu", "sigmoid", "tanh", "exp", "log":
            let ops: [String: OpDef] = ["relu": .relu, "sigmoid": .sigmoid, "tanh": .tanh, "exp": .exp, "log": .log]
            return .tensor(try L.emit(ops[name] ?? .relu, [try a.tensor("x")], at: pos))
        case "softmax", "logSoftmax":
            return .tensor(try L.emit(name == "softmax" ? .softmax : .logSoftmax, [try a.tensor("x")],
                                      ["axis": .int(L.axis(try a.int("axis", default: -1), of: try a.tensor("x")))], at: pos))
        case "mean", "sum":
            let t = try a.tensor("x")
            var axes: [Int]
            if a.has("axis") && a.has("axes") { throw L.error("`\(name)` takes `axis:` or `axes:`, not both", pos) }
            if a.has("axis") { axes = [try a.int("axis")] }
            else if a.has("axes") { axes = try L.intList(a, "axes") }
            else { axes = Array(0..<L.builder.type(of: t).rank) }
            return .tensor(try L.emit(name == "mean" ? .mean : .sum, [t],
                                      ["axes": .ints(axes.map { L.axis($0, of: t) }), "keepdims": .bool(try a.bool("keepdims", default: false))], at: pos))
        case "argmax":
            let t = try a.tensor("x")
            return .tensor(try L.emit(.argmax, [t], ["axis": .int(L.axis(try a.int("axis", default: -1), of: t))], at: pos))
        case "clamp":
            return .tensor(try L.emit(.clamp, [try a.tensor("x")], ["min": .float(try a.double("min")), "max": .float(try a.double("max"))], at: pos))
        case "dropout":
            return .tensor(try dropout(L, try a.tensor("x"), try a.double("p"), at: pos, argPos: a.position("p")))
        case "stack":
            let items = try tensorList(L, a, "tensors")
            // A new axis: -1 means after the last of the inputs' axes.
            return .tensor(try L.emit(.stack, items, ["axis": .int(L.axis(try a.int("axis", default: 0), of: items[0], extra: 1))], at: pos))
        case "nllLoss", "crossEntropy":
            var scores = try a.tensor(name == "nllLoss" ? "logProbs" : "scores")
            if name == "crossEntropy" { scores = try L.emit(.logSoftmax, [scores], ["axis": .int(L.axis(-1, of: scores))], at: pos) }
            var attrs = Attributes()
            if a.has("ignoring") { attrs["ignore_index"] = .int(try a.int("ignoring")) }
            return .tensor(try L.emit(.nllLoss, [scores, try a.tensor("targets")], attrs, at: pos))
        case "sqrt":
            let v = try a.double("value")
            guard v >= 0 else { throw L.error("`sqrt` of a negative number (\(v))", a.position("value")) }
            return .float(v.squareRoot())
        case "stride":
            // `stride(from: 0, to: 10, by: 2)`: a compile-time list of Ints for `for` loops.
            let from = try a.int("from"), by = try a.int("by")
            guard by != 0 else { throw L.error("`stride` needs a non-zero step", a.position("by")) }
            guard a.has("to") != a.has("through") else { throw L.error("`stride` takes `to:` or `through:`", pos) }
            let end = a.has("to") ? try a.int("to") : try a.int("through")
            let inclusive = a.has("through")
            var items: [Val] = []
            var v = from
            while by > 0 ? (inclusive ? v <= end : v < end) : (inclusive ? v >= end : v > end) {
                items.append(.int(v))
                if items.count > L.options.maxLoopIterations {
                    throw L.error("`stride` makes more than \(L.options.maxLoopIterations) values", pos)
                }
                let (next, o) = v.addingReportingOverflow(by)
                if o { break }
                v = next
            }
            return .array(ArrayBox(items))
        case "Double", "Float": return .float(try a.double("value"))
        case "Int":
            let v = try a.double("value")
            guard v.isFinite, abs(v) < 9.0e18 else { throw L.error("`Int(\(v))` is out of range", pos) }
            return .int(Int(v))
        case "min", "max":
            if case .int(let p)? = a.value("a"), case .int(let q)? = a.value("b") { return .int(name == "min" ? Swift.min(p, q) : Swift.max(p, q)) }
            let p = try a.double("a"), q = try a.double("b")
            return .float(name == "min" ? Swift.min(p, q) : Swift.max(p, q))
        default:
            throw L.error("cannot find `\(name)` in scope", pos)
        }
    }

    private static func input(_ L: Lowerer, _ a: BoundArguments, _ pos: Pos) throws -> Val {
        let name = try a.string("name")
        guard !name.isEmpty else { throw L.error("an input needs a non-empty name", a.position("name")) }
        guard !L.inputNames.contains(name) else { throw L.error("an input named \"\(name)\" is already declared", pos) }
        let shape = try L.shapeValue(a, "shape", allowHole: false)
        var dtype = DType.f32
        if let d = a.value("dtype") {
            guard case .enumCase(let n, let args) = d, args.isEmpty else { throw a.wrongType("dtype", "`.float32` or `.int64`") }
            switch n {
            case "float32", "f32": dtype = .f32
            case "int64", "i64": dtype = .i64
            default: throw a.wrongType("dtype", "`.float32` or `.int64`")
            }
        }
        L.inputNames.insert(name)
        L.builder.location = L.location(pos)
        L.builder.scope = ""
        let v = L.builder.input(name, TensorType(dtype, shape))
        try L.checkSize(pos)
        return .tensor(v)
    }

    /// `train(on:metric:...)`: the training recipe, as graph metadata with snake_case keys.
    private static func train(_ L: Lowerer, _ args: [EvaluatedArgument], _ pos: Pos) throws -> Val {
        if let tp = L.trainPos { throw L.error("`train(...)` is already declared at line \(tp.line)", pos) }
        L.trainPos = pos
        for arg in args {
            guard let label = arg.label else { continue }
            let key = label == "on" ? "dataset" : snakeCase(label)
            var attr: Attribute
            switch arg.value {
            case .int(let n): attr = .int(n)
            case .float(let d): attr = .float(d)
            case .bool(let b): attr = .bool(b)
            case .string(let s): attr = .string(s)
            case .enumCase(let n, let caseArgs) where caseArgs.isEmpty: attr = .string(n)
            default:
                throw L.error("argument `\(label):` of `train` must be a number, a Bool, a String or a name like `.adam`, got \(describeValue(arg.value))", arg.pos)
            }
            // Numbers follow the rules every setting follows (`TrainingSettings`): the same as
            // a .gir file's meta line and the command line's flags.
            if let setting = TrainingSettings.named(label: label) {
                if case .number = setting.rule, case .int(let n) = attr { attr = .float(Double(n)) }
                if case .name = setting.rule {} else if let problem = setting.problem(with: attr) {
                    throw L.error("argument `\(label):` of `train` \(problem)", arg.pos)
                }
            }
            if ["on", "metric", "optimizer"].contains(label), !isName(arg.value) {
                throw L.error("argument `\(label):` of `train` must be a name like `.\(label == "on" ? "fashionMNIST" : label == "metric" ? "accuracy" : "sgd")`, got \(describeValue(arg.value))", arg.pos)
            }
            let allowed: [String: Set<String>] = ["on": L.options.datasets, "metric": L.options.metrics, "optimizer": L.options.optimizers]
            if let names = allowed[label], case .string(let n) = attr, !names.contains(n) {
                let list = names.sorted().map { "." + $0 }.joined(separator: ", ")
                let hint = Suggestions.closest(to: n, in: Array(names)).map { " (did you mean `.\($0)`?)" } ?? ""
                throw L.error("unknown \(label == "on" ? "dataset" : label) `.\(n)`; expected one of \(list)\(hint)", arg.pos)
            }
            L.builder.metadata[key] = attr
        }
        return .void
    }

    private static func isName(_ v: Val) -> Bool {
        if case .enumCase(_, let args) = v { return args.isEmpty }
        return false
    }

    private static func concat(_ L: Lowerer, _ args: [EvaluatedArgument], _ pos: Pos) throws -> Val {
        var items: [Value] = []
        var axis = -1
        for arg in args {
            switch (arg.label, arg.value) {
            case ("axis"?, .int(let n)): axis = n
            case ("axis"?, let v): throw L.error("argument `axis:` of `concat` must be an Int, got \(describeValue(v))", arg.pos)
            case (let l?, _): throw L.error("`concat` has no argument labelled `\(l):`; write `concat(a, b, axis: n)` or `concat([a, b], axis: n)`", arg.pos)
            case (nil, .tensor(let t)): items.append(t)
            case (nil, .array(let box)):
                for v in box.items {
                    guard case .tensor(let t) = v else { throw L.error("`concat` joins tensors, got \(describeValue(v)) in the array", arg.pos) }
                    items.append(t)
                }
            case (nil, let v): throw L.error("`concat` joins tensors, got \(describeValue(v))", arg.pos)
            }
        }
        guard !items.isEmpty else { throw L.error("`concat` needs at least one tensor", pos) }
        return .tensor(try L.emit(.concat, items, ["axis": .int(L.axis(axis, of: items[0]))], at: pos))
    }

    static func tensorList(_ L: Lowerer, _ a: BoundArguments, _ name: String) throws -> [Value] {
        guard case .array(let box)? = a.value(name) else { throw a.wrongType(name, "an array of tensors") }
        guard !box.items.isEmpty else { throw L.error("`\(a.callee)` needs at least one tensor, got an empty array", a.position(name)) }
        return try box.items.map { v in
            guard case .tensor(let t) = v else { throw a.wrongType(name, "an array of tensors") }
            return t
        }
    }

    static func flatten(_ L: Lowerer, _ t: Value, at pos: Pos) throws -> Value {
        let s = L.builder.type(of: t).shape
        guard s.rank >= 1 else { throw L.error("flatten needs a tensor of rank 1 or more, got \(L.builder.type(of: t))", pos) }
        return try L.emit(.reshape, [t], ["shape": .shape(Shape([s[0], .known(-1)]))], at: pos)
    }

    /// Inverted dropout as `x * dropout_mask(x)`; in mode .infer it is the identity.
    static func dropout(_ L: Lowerer, _ t: Value, _ p: Double, at pos: Pos, argPos: Pos) throws -> Value {
        guard p >= 0 && p < 1 else { throw L.error("dropout probability must be in [0, 1), got \(p)", argPos) }
        if L.options.mode == .infer || p == 0 { return t }
        let mask = try L.emit(.dropoutMask, [t], ["p": .float(p)], at: pos)
        return try L.emit(.mul, [t, mask], at: pos)
    }

    /// `x + y`, `x * 2`, `1 - x`, ... with at least one tensor operand.
    static func tensorArithmetic(_ L: Lowerer, _ op: String, _ a: Val, _ b: Val, at pos: Pos) throws -> Val? {
        let ops: [String: OpDef] = ["+": .add, "-": .sub, "*": .mul, "/": .div]
        guard let def = ops[op] else {
            if ["==", "!=", "<", "<=", ">", ">="].contains(op) {
                throw L.error("`\(op)` compares compile-time values; tensors are only known when the graph runs", pos)
            }
            return nil
        }
        func scalar(_ v: Val) -> Double? {
            switch v { case .int(let n): return Double(n); case .float(let d): return d; default: return nil }
        }
        switch (a, b) {
        case (.tensor(let x), .tensor(let y)):
            return .tensor(try L.emit(def, [x, y], at: pos))
        case (.tensor(let x), _):
            guard let s = scalar(b) else { return nil }
            if op == "*" { return .tensor(try L.emit(.scale, [x], ["factor": .float(s)], at: pos)) }
            if op == "/" {
                guard s != 0 else { throw L.error("division of a tensor by zero", pos) }
                return .tensor(try L.emit(.scale, [x], ["factor": .float(1 / s)], at: pos))
            }
            let c = try L.emit(.constant, [], ["value": .float(s)], at: pos)
            return .tensor(try L.emit(def, [x, c], at: pos))
        case (_, .tensor(let y)):
            guard let s = scalar(a) else { return nil }
            if op == "*" { return .tensor(try L.emit(.scale, [y], ["factor": .float(s)], at: pos)) }
            let c = try L.emit(.constant, [], ["value": .float(s)], at: pos)
            return .tensor(try L.emit(def, [c, y], at: pos))
        default:
            return nil
        }
    }

    /// `x[.all, t]`, `x[.all, 1...]`, `x[0..<n]`: select for Ints (the axis disappears),
    /// slice for ranges, `.all` keeps an axis.
    static func index(_ L: Lowerer, _ t: Value, _ indices: [(Val, Pos)], at pos: Pos) throws -> Value {
        var cur = t
        let type = L.builder.type(of: t)
        guard indices.count <= type.rank else {
            throw L.error("too many indices (\(indices.count)) for \(type)", pos)
        }
        var axis = 0
        for (idx, ipos) in indices {
            let shape = L.builder.type(of: cur).shape
            let size = shape[axis].value
            switch idx {
            case .enumCase("all", let args) where args.isEmpty:
                axis += 1
            case .int(let i):
                var k = i
                if k < 0, let n = size { k += n }
                cur = try L.emit(.select, [cur], ["axis": .int(axis), "index": .int(k)], at: ipos)
            case .range(let lo, let hi):
                guard let end = hi ?? size else {
                    throw L.error("cannot slice the symbolic dimension \(shape[axis]) of \(L.builder.type(of: cur)) without an upper bound", ipos)
                }
                cur = try L.emit(.slice, [cur], ["axis": .int(axis), "start": .int(lo ?? 0), "end": .int(end)], at: ipos)
                axis += 1
            default:
                throw L.error("a tensor index must be an Int, a range or `.all`, got \(describeValue(idx))", ipos)
            }
        }
        return cur
    }
}

extension Lowerer {
    /// A shape argument: an array of Ints and `batch`; `-1` allowed once when `allowHole`.
    func shapeValue(_ a: BoundArguments, _ name: String, allowHole: Bool) throws -> Shape {
        guard case .array(let box)? = a.value(name) else { throw a.wrongType(name, "a shape such as `[batch, 1, 28, 28]`") }
        var dims: [Dim] = []
        for v in box.items {
            switch v {
            case .int(let n):
                guard n <= TensorLimits.maxDimension else {
                    throw error("dimension \(n) in the shape of `\(a.callee)` is too large (the limit is \(TensorLimits.maxDimension))", a.position(name))
                }
                guard n > 0 || (allowHole && n == -1) else {
                    throw error("dimension \(n) in the shape of `\(a.callee)` must be positive\(allowHole ? " (or -1, inferred)" : "")", a.position(name))
                }
                dims.append(.known(n))
            case .symbol(let s): dims.append(.symbol(s))
            default: throw a.wrongType(name, "a shape of Ints and `batch`, containing \(describeValue(v))")
            }
        }
        let shape = Shape(dims)
        guard TensorLimits.knownElements(shape) != nil else {
            throw error("the shape \(shape) in `\(a.callee)` has too many elements (the limit is 2^48)", a.position(name))
        }
        return shape
    }

    /// Kernels get non-negative axes: `-1` becomes `rank - 1`. An axis out of range is left
    /// for the op's shape rule to report.
    func axis(_ a: Int, of t: Value, extra: Int = 0) -> Int {
        let rank = builder.type(of: t).rank + extra
        return a < 0 && a + rank >= 0 ? a + rank : a
    }

    func intList(_ a: BoundArguments, _ name: String) throws -> [Int] {
        guard case .array(let box)? = a.value(name) else { throw a.wrongType(name, "an array of Ints") }
        return try box.items.map { v in
            guard case .int(let n) = v else { throw a.wrongType(name, "an array of Ints") }
            return n
        }
    }
}
