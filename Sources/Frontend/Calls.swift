import GraphIR

// Calls of builtins, user functions and layers, and emitting graph nodes.
extension Lowerer {
    // MARK: calls

    func call(_ calleeExpr: Expr, _ argExprs: [Argument], _ closure: Closure?, _ scope: Scope, _ pos: Pos) throws -> Val {
        // `scores.append(x)` mutates the array in place (O(1) per unrolled step).
        if case .member(let baseExpr, let method) = calleeExpr.kind {
            if method == "append", case .identifier(let n) = baseExpr.kind, let owner = scope.owner(of: n),
               let variable = owner.vars[n], case .array(let box) = variable.value {
                if variable.isLet { throw error("cannot mutate `\(n)`: it is a `let` constant; declare it with `var`", baseExpr.pos) }
                guard argExprs.count == 1, argExprs[0].label == nil else {
                    throw error("`append` takes exactly one unlabelled argument", pos)
                }
                box.items.append(try eval(argExprs[0].value, scope).copied())
                return .void
            }
            let base = try eval(baseExpr, scope)
            let args = try evaluate(argExprs, scope)
            if case .tensor = base {
                guard Builtins.methods.contains(method) else {
                    let hint = Suggestions.closest(to: method, in: Array(Builtins.methods)).map { "did you mean `\($0)`? " } ?? ""
                    throw error("tensors have no method `\(method)`; \(hint)methods are \(Builtins.methods.sorted().joined(separator: ", "))", calleeExpr.pos)
                }
                let all = [EvaluatedArgument(label: nil, value: base, pos: baseExpr.pos)] + args
                return try Builtins.call(self, method, all, scope, pos)
            }
            throw error("\(describeValue(base)) has no method `\(method)`", calleeExpr.pos)
        }
        if case .implicitMember(let n) = calleeExpr.kind {
            let args = try evaluate(argExprs, scope)
            return .enumCase(n, args.map(\.value))
        }
        if case .identifier(let n) = calleeExpr.kind, scope.lookup(n) == nil {
            if n == "Sequential" || n == "Module" {
                guard let c = closure else { throw error("`\(n)` needs a trailing closure: `\(n) { ... }`", pos) }
                if !argExprs.isEmpty { throw error("`\(n)` takes no arguments besides its closure", argExprs[0].pos) }
                return try n == "Sequential" ? Layers.sequential(self, c, scope, pos) : Layers.module(self, c, scope, pos)
            }
            let args = try evaluate(argExprs, scope)
            if Layers.constructors.contains(n) { return .module(try Layers.construct(self, n, args, pos)) }
            if Builtins.functions[n] != nil { return try Builtins.call(self, n, args, scope, pos) }
            if n.first?.isUppercase == true {
                let hint = Suggestions.closest(to: n, in: Array(Layers.constructors)).map { "did you mean `\($0)`? " } ?? ""
                throw error("unknown layer `\(n)`; \(hint)the layers are \(Layers.constructors.sorted().joined(separator: ", "))", calleeExpr.pos)
            }
            throw error("cannot find `\(n)` in scope" + Suggestions.hint(n, allNames(scope)), calleeExpr.pos)
        }
        // `[Tensor]()`: Swift's empty-array initializer.
        if case .array(let items) = calleeExpr.kind, items.count == 1, case .identifier(let t) = items[0].kind,
           argExprs.isEmpty, closure == nil {
            _ = try coerce(.array(ArrayBox([])), to: .array(.named(t)), at: calleeExpr.pos, what: "the array")
            return .array(ArrayBox([]))
        }
        let callee = try eval(calleeExpr, scope)
        let args = try evaluate(argExprs, scope)
        switch callee {
        case .module(let m): return try callModule(m, args, scope, pos)
        case .function(let f, let defScope): return try callFunction(f, defScope, args, scope, pos)
        default: throw error("\(describeValue(callee)) cannot be called", calleeExpr.pos)
        }
    }

    func evaluate(_ args: [Argument], _ scope: Scope) throws -> [EvaluatedArgument] {
        try args.map { EvaluatedArgument(label: $0.label, value: try eval($0.value, scope), pos: $0.pos) }
    }

    func enterCall(_ pos: Pos) throws {
        callDepth += 1
        if callDepth > Lowerer.maxCallDepth {
            throw error("calls are nested more than \(Lowerer.maxCallDepth) deep; is a function calling itself?", pos)
        }
    }

    func callFunction(_ f: FuncDecl, _ defScope: Scope, _ args: [EvaluatedArgument], _ caller: Scope, _ pos: Pos) throws -> Val {
        try enterCall(pos)
        defer { callDepth -= 1 }
        let spec = f.params.map { ParamSpec(label: $0.label, name: $0.name, optional: $0.defaultValue != nil) }
        let bound = try BoundArguments(args, spec, callee: f.name, pos: pos)
        var buildsModule = false
        if case .named("Module")? = f.returnType { buildsModule = true }
        let frame = buildsModule
            ? Frame(owner: ModuleInstance(kind: .pending, typeName: f.name, pos: pos), buildsModule: true)
            : caller.frame
        let scope = Scope(parent: defScope, frame: frame)
        for p in f.params {
            var v: Val
            if let a = bound.raw(p.name) { v = a.value }
            else if let d = p.defaultValue { v = try eval(d, defScope) }
            else { throw error("missing argument `\(p.name)` in call to `\(f.name)`", pos) }
            v = try coerce(v, to: p.type, at: bound.position(p.name), what: "argument `\(p.name)` of `\(f.name)`")
            scope.vars[p.name] = Variable(value: v.copied(), isLet: true)
        }
        let flow = try traced("`\(f.name)` called", pos) { try exec(f.body, scope) }
        var result: Val = .void
        if case .returned(let v, _) = flow { result = v }
        if let rt = f.returnType {
            if case .void = result { throw error("`\(f.name)` must return a value of type \(rt)", f.pos) }
            result = try coerce(result, to: rt, at: f.pos, what: "the result of `\(f.name)`")
        }
        if buildsModule, case .module(let m) = result {
            if case .pending = m.kind {
                throw error("`\(f.name)` must end with `return Module { x in ... }`", f.pos)
            }
            if m !== frame.owner {
                // Returned another module: layers bound in the body become its children.
                for child in allChildren(of: frame.owner) { child.parent = m }
            }
        }
        return result
    }

    /// Runs `body`, adding "in X called at line L" to an error raised inside it, so an error in
    /// a function or module body says which call led there (at most 8 such notes).
    func traced<T>(_ what: String, _ pos: Pos, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch var e as DSLError {
            if e.notes.count < 8 { e.notes.append("in \(what) at line \(pos.line), column \(pos.column)") }
            throw e
        }
    }

    /// Modules that are children of `owner`.
    func allChildren(of owner: ModuleInstance) -> [ModuleInstance] { modules.filter { $0.parent === owner } }

    func register(_ m: ModuleInstance) -> ModuleInstance { modules.append(m); return m }

    /// Calls a layer. The first call fixes its path, makes its parameters and adds its row to
    /// the layer summary; later calls (shared weights) reuse them.
    func callModule(_ m: ModuleInstance, _ args: [EvaluatedArgument], _ scope: Scope, _ pos: Pos) throws -> Val {
        try enterCall(pos)
        defer { callDepth -= 1 }
        for a in args where a.label != nil {
            throw error("layers are called without argument labels, got `\(a.label ?? ""):`", a.pos)
        }
        var rowIndex: Int?
        if !m.called {
            if m.localName == nil && m !== root { scope.frame.owner.adopt(m, as: snakeCase(m.typeName)) }
            m.path = m.computePath(root: root)
            m.called = true
            rowIndex = rows.count
            rows.append(LayerSummaryRow(name: m.path, type: m.typeName, outputShape: Shape([]), parameters: 0, buffers: 0,
                                        depth: max(0, m.path.split(separator: ".").count - 1)))
        }
        let savedScope = currentScope
        currentScope = m.path
        defer { currentScope = savedScope }
        let result = try Layers.forward(self, m, args, scope, pos)
        if let r = rowIndex {
            if let t = firstTensor(result) { rows[r].outputShape = builder.type(of: t).shape }
            for (_, p) in m.params {
                let n = builder[p].type.shape.knownCount ?? 0
                if builder[p].attributes[.buffer] == true { rows[r].buffers += n } else { rows[r].parameters += n }
            }
        }
        return result
    }

    func firstTensor(_ v: Val) -> Value? {
        switch v {
        case .tensor(let t): return t
        case .tuple(let items): return items.lazy.compactMap { self.firstTensor($0) }.first
        default: return nil
        }
    }

    // MARK: graph building

    func location(_ pos: Pos) -> SourceLocation { SourceLocation(file: file, line: pos.line, column: pos.column) }

    /// Emits a node; an op's shape complaint becomes a located error naming the op and types.
    func emit(_ op: OpDef, _ inputs: [Value], _ attrs: Attributes = Attributes(), at pos: Pos, context: String? = nil) throws -> Value {
        builder.location = location(pos)
        builder.scope = currentScope
        do {
            let v = try builder.emit(op, inputs, attrs)
            try checkSize(pos)
            guard TensorLimits.knownElements(builder.type(of: v).shape) != nil else {
                throw error("\(op.name): the result \(builder.type(of: v)) has too many elements (the limit is 2^48)", pos)
            }
            return v
        } catch let e as BuildError {
            let prefix = context.map { "\($0): " } ?? ""
            // Some shape rules already start their message with the op's name.
            let own = e.op + ": "
            let message = e.message.hasPrefix(own) ? String(e.message.dropFirst(own.count)) : e.message
            let shapes = e.inputs.map(\.description).joined(separator: ", ")
            throw error("\(prefix)\(e.op): \(message) (inputs: \(shapes))", pos)
        }
    }

    func checkSize(_ pos: Pos) throws {
        if builder.nodes.count > options.maxNodes {
            throw error("the graph grows past \(options.maxNodes) nodes; is a loop bound too large?", pos)
        }
    }

    /// Makes a parameter (or, with `buffer`, a non-trainable statistic) of module `m`.
    func parameter(_ m: ModuleInstance?, _ local: String, _ shape: Shape, _ initSpec: InitSpec, buffer: Bool = false, at pos: Pos) throws -> Value {
        guard TensorLimits.knownElements(shape) != nil else {
            throw error("the parameter \(local) of shape \(shape) has too many elements (the limit is 2^48)", pos)
        }
        let full = (m?.path ?? "").isEmpty ? local : "\(m?.path ?? "").\(local)"
        guard !paramNames.contains(full) else { throw error("a parameter named `\(full)` already exists", pos) }
        paramNames.insert(full)
        var attrs = initSpec.attributes
        if buffer { attrs["buffer"] = .bool(true) }
        builder.location = location(pos)
        builder.scope = m?.path ?? currentScope
        let v = builder.parameter(full, .f32(shape), initializer: attrs)
        m?.params[local] = v
        try checkSize(pos)
        return v
    }
}
