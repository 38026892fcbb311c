import GraphIR

/// Runs a parsed .swiftgraph program at compile time and builds the graph. Statements and
/// expressions are evaluated here; builtin functions live in Builtins.swift and layers in
/// Layers.swift.
final class Lowerer {
    let file: String
    let options: FrontendOptions
    let graph: Graph
    let builder: GraphBuilder
    let root: ModuleInstance
    let globals: Scope
    var rows: [LayerSummaryRow] = []
    var steps = 0
    var callDepth = 0
    var lossPos: Pos?
    var trainPos: Pos?
    var outputNames: Set<String> = []
    var inputNames: Set<String> = []
    var paramNames: Set<String> = []
    /// The path of the module whose forward code is running (nodes' scope).
    var currentScope = ""

    static let maxCallDepth = 64

    init(file: String, options: FrontendOptions) {
        self.file = file
        self.options = options
        let base = file.split(separator: "/").last.map(String.init) ?? file
        let name = base.hasSuffix(".swiftgraph") ? String(base.dropLast(".swiftgraph".count)) : base
        graph = Graph(name: name.isEmpty ? "graph" : name)
        builder = GraphBuilder(graph: graph)
        root = ModuleInstance(kind: .identity, typeName: "<root>", pos: Pos(line: 1, column: 1))
        globals = Scope(parent: nil, frame: Frame(owner: root, buildsModule: false))
    }

    func run(_ program: [Stmt]) throws {
        graph.metadata["mode"] = .string(options.mode.rawValue)
        if case .returned(_, let p) = try exec(program, globals) {
            throw DSLError("`return` outside a function", line: p.line, column: p.column)
        }
        if let tp = trainPos, options.mode == .train, graph.loss == nil {
            throw DSLError("`train(...)` is declared but the graph has no loss in mode .train; declare one with `loss(expr)`",
                           line: tp.line, column: tp.column)
        }
        if graph.loss == nil && graph.outputs.isEmpty {
            throw DSLError("the program declares no `loss(...)` and no `output(...)`: there is nothing to compute", line: 1, column: 1)
        }
    }

    func error(_ message: String, _ pos: Pos, notes: [String] = []) -> DSLError {
        DSLError(message, line: pos.line, column: pos.column, notes: notes)
    }

    // MARK: statements

    enum Flow { case normal, returned(Val, Pos) }

    func exec(_ stmts: [Stmt], _ scope: Scope) throws -> Flow {
        // Functions are visible in their whole block, as in a Swift file.
        for s in stmts {
            if case .function(let f) = s.kind {
                if scope.vars[f.name] != nil { throw error("invalid redeclaration of `\(f.name)`", f.pos) }
                scope.vars[f.name] = Variable(value: .function(f, scope), isLet: true)
            }
        }
        for s in stmts {
            if case .returned(let v, let p) = try exec(s, scope) { return .returned(v, p) }
        }
        return .normal
    }

    /// Counts statements and loop iterations run at compile time, so no program can hang.
    func step(_ pos: Pos) throws {
        steps += 1
        if steps > options.maxSteps {
            throw error("the program runs more than \(options.maxSteps) statements at compile time; is a loop bound too large?", pos)
        }
    }

    func exec(_ s: Stmt, _ scope: Scope) throws -> Flow {
        try step(s.pos)
        return try nested(s.pos) { try execInner(s, scope) }
    }

    private func execInner(_ s: Stmt, _ scope: Scope) throws -> Flow {
        switch s.kind {
        case .declaration(let isLet, let bindings):
            for b in bindings {
                guard let valueExpr = b.value else {
                    throw error("`\(isLet ? "let" : "var")` declarations need an initial value in the graphc DSL", b.pattern.pos)
                }
                var v = try eval(valueExpr, scope)
                if let t = b.type { v = try coerce(v, to: t, at: valueExpr.pos, what: "value of the declaration") }
                try bind(b.pattern, v, in: scope, isLet: isLet, at: valueExpr.pos)
            }
        case .assignment(let target, let op, let valueExpr):
            var v = try eval(valueExpr, scope)
            if !op.isEmpty {
                let current = try eval(target, scope)
                v = try binaryOp(op, current, v, at: s.pos, rhsPos: valueExpr.pos)
            }
            try assign(target, v, scope)
        case .expression(let e):
            _ = try eval(e, scope)
        case .forIn(let pattern, let seqExpr, let body):
            let seq = try eval(seqExpr, scope)
            switch seq {
            case .range(let lo?, let hi?):
                let (count, overflow) = hi.subtractingReportingOverflow(lo)
                if overflow || count > options.maxLoopIterations {
                    throw error("loop runs \(overflow ? "more than \(Int.max)" : String(count)) times; the unrolling limit is \(options.maxLoopIterations) iterations", seqExpr.pos)
                }
                var i = lo
                while i < hi {
                    try step(s.pos)
                    let inner = Scope(parent: scope, frame: scope.frame)
                    try bind(pattern, .int(i), in: inner, isLet: true, at: pattern.pos)
                    if case .returned(let v, let p) = try exec(body, inner) { return .returned(v, p) }
                    i += 1
                }
            case .array(let box):
                for item in box.items {
                    try step(s.pos)
                    let inner = Scope(parent: scope, frame: scope.frame)
                    try bind(pattern, item.copied(), in: inner, isLet: true, at: pattern.pos)
                    if case .returned(let v, let p) = try exec(body, inner) { return .returned(v, p) }
                }
            default:
                throw error("a `for` loop needs a range with both bounds (`0..<n`, `a...b`) or an array, got \(describeValue(seq))", seqExpr.pos)
            }
        case .ifElse(let condExpr, let then, let otherwise):
            let c = try eval(condExpr, scope)
            guard case .bool(let b) = c else {
                throw error("an `if` condition must be a compile-time Bool, got \(describeValue(c))", condExpr.pos)
            }
            if b { return try exec(then, Scope(parent: scope, frame: scope.frame)) }
            if let o = otherwise { return try exec(o, Scope(parent: scope, frame: scope.frame)) }
        case .function:
            break  // declared when its block started
        case .returnValue(let e):
            return .returned(try e.map { try eval($0, scope) } ?? .void, s.pos)
        }
        return .normal
    }

    /// Binds a new name (or tuple of names). A layer bound to a name takes that name.
    func bind(_ pattern: Pattern, _ v: Val, in scope: Scope, isLet: Bool, at pos: Pos) throws {
        switch pattern {
        case .wildcard: return
        case .name(let n, let p):
            if scope.vars[n] != nil { throw error("invalid redeclaration of `\(n)`", p) }
            if case .module(let m) = v { name(m, n, scope) }
            scope.vars[n] = Variable(value: v.copied(), isLet: isLet)
        case .tuple(let items, let p):
            guard case .tuple(let vs) = v, vs.count == items.count else {
                throw error("cannot destructure \(describeValue(v)) into a tuple of \(items.count) names", p)
            }
            for (item, x) in zip(items, vs) { try bind(item, x, in: scope, isLet: isLet, at: pos) }
        }
    }

    func name(_ m: ModuleInstance, _ binding: String, _ scope: Scope) {
        guard m.localName == nil, m !== root, !m.called else { return }
        scope.frame.owner.adopt(m, as: snakeCase(binding))
    }

    func assign(_ target: Expr, _ v: Val, _ scope: Scope) throws {
        switch target.kind {
        case .identifier("_"):
            return  // `_ = expr` evaluates and discards
        case .identifier(let n):
            guard let owner = scope.owner(of: n), let old = owner.vars[n] else {
                throw error("cannot find `\(n)` in scope" + Suggestions.hint(n, scope.visibleNames), target.pos)
            }
            if old.isLet { throw error("cannot assign to `\(n)`: it is a `let` constant", target.pos) }
            if case .module(let m) = v { name(m, n, scope) }
            owner.vars[n] = Variable(value: v.copied(), isLet: false)
        case .tuple(let items):
            guard case .tuple(let vs) = v, vs.count == items.count else {
                throw error("cannot assign \(describeValue(v)) to a tuple of \(items.count) names", target.pos)
            }
            for (item, x) in zip(items, vs) {
                if case .identifier("_") = item.kind { continue }
                try assign(item, x, scope)
            }
        default:
            throw error("only variables and tuples of variables can be assigned to", target.pos)
        }
    }

    /// Checks a value against a type annotation; Ints widen to Double.
    func coerce(_ v: Val, to t: TypeName, at pos: Pos, what: String) throws -> Val {
        func fail() -> DSLError { error("\(what) must be \(t), got \(describeValue(v))", pos) }
        switch (t, v) {
        case (.named("Int"), .int), (.named("Bool"), .bool), (.named("String"), .string),
             (.named("Tensor"), .tensor), (.named("Module"), .module):
            return v
        case (.named("Double"), .float), (.named("Float"), .float): return v
        case (.named("Double"), .int(let n)), (.named("Float"), .int(let n)): return .float(Double(n))
        case (.named(let n), _):
            let known = ["Int", "Double", "Float", "Bool", "String", "Tensor", "Module"]
            if !known.contains(n) {
                throw error("unknown type `\(n)`; the DSL's types are Int, Double, Float, Bool, String, Tensor, Module, [T] and (T, U)", pos)
            }
            throw fail()
        case (.array(let inner), .array(let box)):
            return .array(ArrayBox(try box.items.map { try coerce($0, to: inner, at: pos, what: what) }))
        case (.tuple(let ts), .tuple(let vs)) where ts.count == vs.count:
            return .tuple(try zip(ts, vs).map { try coerce($1, to: $0, at: pos, what: what) })
        default:
            throw fail()
        }
    }

    // MARK: expressions

    /// Bounds the interpreter's recursion (nested expressions inside nested calls) so that
    /// no program can overflow the stack.
    var nesting = 0
    static let maxNesting = 400

    func nested<T>(_ pos: Pos, _ body: () throws -> T) throws -> T {
        nesting += 1
        defer { nesting -= 1 }
        if nesting > Lowerer.maxNesting {
            throw error("the program is nested too deeply at compile time (expressions inside calls more than \(Lowerer.maxNesting) levels deep); is a function calling itself?", pos)
        }
        return try body()
    }

    func eval(_ e: Expr, _ scope: Scope) throws -> Val {
        try nested(e.pos) { try evalInner(e, scope) }
    }

    private func evalInner(_ e: Expr, _ scope: Scope) throws -> Val {
        switch e.kind {
        case .integer(let n): return .int(n)
        case .float(let d): return .float(d)
        case .string(let s): return .string(s)
        case .bool(let b): return .bool(b)
        case .identifier(let n): return try lookup(n, scope, e.pos)
        case .implicitMember(let n): return .enumCase(n, [])
        case .tuple(let items): return .tuple(try items.map { try eval($0, scope) })
        case .array(let items): return .array(ArrayBox(try items.map { try eval($0, scope) }))
        case .member(let base, let n): return try member(base, n, scope, e.pos)
        case .call(let callee, let args, let closure): return try call(callee, args, closure, scope, e.pos)
        case .subscriptAccess(let base, let args): return try subscriptValue(base, args, scope)
        case .unary(let op, let x): return try unaryOp(op, try eval(x, scope), at: e.pos, operandPos: x.pos)
        case .binary(let op, let a, let b):
            if op == "&&" || op == "||" {
                let l = try eval(a, scope)
                guard case .bool(let lb) = l else { throw error("`\(op)` needs compile-time Bools, got \(describeValue(l))", a.pos) }
                if (op == "&&" && !lb) || (op == "||" && lb) { return .bool(lb) }
                let r = try eval(b, scope)
                guard case .bool(let rb) = r else { throw error("`\(op)` needs compile-time Bools, got \(describeValue(r))", b.pos) }
                return .bool(rb)
            }
            return try binaryOp(op, try eval(a, scope), try eval(b, scope), at: e.pos, rhsPos: b.pos)
        case .postfixRange(let x):
            let v = try eval(x, scope)
            guard case .int(let lo) = v else { throw error("a range bound must be an Int, got \(describeValue(v))", x.pos) }
            return .range(lower: lo, upper: nil)
        case .ternary(let c, let a, let b):
            let cv = try eval(c, scope)
            guard case .bool(let cb) = cv else { throw error("the condition of `? :` must be a compile-time Bool, got \(describeValue(cv))", c.pos) }
            return try eval(cb ? a : b, scope)
        }
    }

    func lookup(_ n: String, _ scope: Scope, _ pos: Pos) throws -> Val {
        if let v = scope.lookup(n) { return v.value }
        switch n {
        case "batch": return .symbol("B")
        case "mode": return .enumCase(options.mode.rawValue, [])
        case "_": throw error("`_` can only be used to ignore a value", pos)
        default: break
        }
        if Builtins.functions[n] != nil || Layers.constructors.contains(n) {
            throw error("`\(n)` is a function; call it with `\(n)(...)`", pos)
        }
        throw error("cannot find `\(n)` in scope" + Suggestions.hint(n, allNames(scope)), pos)
    }

    func allNames(_ scope: Scope) -> [String] {
        scope.visibleNames + Array(Builtins.functions.keys) + Array(Layers.constructors) + ["batch", "mode", "concat"]
    }

    func member(_ baseExpr: Expr, _ n: String, _ scope: Scope, _ pos: Pos) throws -> Val {
        let base = try eval(baseExpr, scope)
        switch (base, n) {
        case (.tensor(let t), "shape"):
            return .array(ArrayBox(graph.type(of: t).shape.dims.map { d -> Val in
                switch d { case .known(let k): return .int(k); case .symbol(let s): return .symbol(s) }
            }))
        case (.tensor(let t), "rank"): return .int(graph.type(of: t).rank)
        case (.array(let box), "count"): return .int(box.items.count)
        case (.tuple(let items), _):
            if let k = Int(n), k >= 0, k < items.count { return items[k] }
        default: break
        }
        if case .tensor = base, Builtins.methods.contains(n) {
            throw error("`\(n)` is a method; call it with `.\(n)(...)`", pos)
        }
        throw error("\(describeValue(base)) has no member `\(n)`", pos)
    }

    func subscriptValue(_ baseExpr: Expr, _ args: [Argument], _ scope: Scope) throws -> Val {
        let base = try eval(baseExpr, scope)
        var indices: [(Val, Pos)] = []
        for a in args {
            if let l = a.label { throw error("subscripts take no labels, got `\(l):`", a.pos) }
            indices.append((try eval(a.value, scope), a.pos))
        }
        switch base {
        case .array(let box):
            guard indices.count == 1, case .int(let i) = indices[0].0 else {
                throw error("an array subscript takes one Int index", baseExpr.pos)
            }
            guard i >= 0 && i < box.items.count else {
                throw error("index \(i) is out of range for an array of \(box.items.count) values", indices[0].1)
            }
            return box.items[i]
        case .tensor(let t):
            return .tensor(try Builtins.index(self, t, indices, at: baseExpr.pos))
        default:
            throw error("cannot subscript \(describeValue(base))", baseExpr.pos)
        }
    }

    // MARK: operators

    func unaryOp(_ op: String, _ v: Val, at pos: Pos, operandPos: Pos) throws -> Val {
        switch (op, v) {
        case ("-", .int(let n)):
            guard n != Int.min else { throw error("integer overflow in `-`", pos) }
            return .int(-n)
        case ("-", .float(let d)): return .float(-d)
        case ("+", .int), ("+", .float): return v
        case ("-", .tensor(let t)): return .tensor(try emit(.neg, [t], at: pos))
        case ("+", .tensor): return v
        case ("!", .bool(let b)): return .bool(!b)
        case ("..<", .int(let n)): return .range(lower: nil, upper: n)
        case ("...", .int(let n)):
            guard n < Int.max else { throw error("integer overflow in `...`", pos) }
            return .range(lower: nil, upper: n + 1)
        default:
            throw error("operator `\(op)` cannot be applied to \(describeValue(v))", operandPos)
        }
    }

    func binaryOp(_ op: String, _ a: Val, _ b: Val, at pos: Pos, rhsPos: Pos) throws -> Val {
        switch (a, b) {
        case (.int(let x), .int(let y)): return try intOp(op, x, y, at: pos, rhsPos: rhsPos)
        case (.int, .float), (.float, .int), (.float, .float):
            let x = number(a), y = number(b)
            switch op {
            case "+": return .float(x + y)
            case "-": return .float(x - y)
            case "*": return .float(x * y)
            case "/":
                guard y != 0 else { throw error("division by zero", rhsPos) }
                return .float(x / y)
            case "==": return .bool(x == y)
            case "!=": return .bool(x != y)
            case "<": return .bool(x < y)
            case "<=": return .bool(x <= y)
            case ">": return .bool(x > y)
            case ">=": return .bool(x >= y)
            default: break
            }
        case (.tensor, _), (_, .tensor):
            if let v = try Builtins.tensorArithmetic(self, op, a, b, at: pos) { return v }
        case (.bool(let x), .bool(let y)):
            if op == "==" { return .bool(x == y) }
            if op == "!=" { return .bool(x != y) }
        case (.string(let x), .string(let y)):
            if op == "==" { return .bool(x == y) }
            if op == "!=" { return .bool(x != y) }
            if op == "+" { return .string(x + y) }
        case (.enumCase(let x, _), .enumCase(let y, _)):
            // `mode == .test` is a typo, not a false condition.
            let modes: Set<String> = ["train", "infer"]
            if modes.contains(x) != modes.contains(y), op == "==" || op == "!=" {
                throw error("`.\(modes.contains(x) ? y : x)` is not a mode; `mode` is `.train` or `.infer`", rhsPos)
            }
            if op == "==" { return .bool(x == y) }
            if op == "!=" { return .bool(x != y) }
        case (.symbol(let x), .symbol(let y)):
            if op == "==" { return .bool(x == y) }
            if op == "!=" { return .bool(x != y) }
        default: break
        }
        throw error("operator `\(op)` cannot be applied to \(describeValue(a)) and \(describeValue(b))", pos)
    }

    private func number(_ v: Val) -> Double {
        switch v { case .int(let n): return Double(n); case .float(let d): return d; default: return .nan }
    }

    private func intOp(_ op: String, _ x: Int, _ y: Int, at pos: Pos, rhsPos: Pos) throws -> Val {
        func checked(_ r: (partialValue: Int, overflow: Bool)) throws -> Val {
            guard !r.overflow else { throw error("integer overflow in `\(op)`", pos) }
            return .int(r.partialValue)
        }
        switch op {
        case "+": return try checked(x.addingReportingOverflow(y))
        case "-": return try checked(x.subtractingReportingOverflow(y))
        case "*": return try checked(x.multipliedReportingOverflow(by: y))
        case "/", "%":
            guard y != 0 else { throw error(op == "/" ? "division by zero" : "remainder by zero", rhsPos) }
            return try checked(op == "/" ? x.dividedReportingOverflow(by: y) : x.remainderReportingOverflow(dividingBy: y))
        case "==": return .bool(x == y)
        case "!=": return .bool(x != y)
        case "<": return .bool(x < y)
        case "<=": return .bool(x <= y)
        case ">": return .bool(x > y)
        case ">=": return .bool(x >= y)
        case "..<":
            guard x <= y else { throw error("range \(x)..<\(y) has its lower bound above its upper bound", pos) }
            return .range(lower: x, upper: y)
        case "...":
            guard x <= y, y < Int.max else { throw error("range \(x)...\(y) has its lower bound above its upper bound", pos) }
            return .range(lower: x, upper: y + 1)
        default:
            throw error("operator `\(op)` cannot be applied to Ints", pos)
        }
    }

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

    /// Modules that are children of `owner`; kept as a list to re-parent them.
    var modules: [ModuleInstance] = []
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
            if let t = firstTensor(result) { rows[r].outputShape = graph.type(of: t).shape }
            for (_, p) in m.params {
                let n = graph[p].type.shape.knownCount ?? 0
                if graph[p].attributes.bool("buffer") == true { rows[r].buffers += n } else { rows[r].parameters += n }
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
            guard TensorLimits.knownElements(graph.type(of: v).shape) != nil else {
                throw error("\(op.name): the result \(graph.type(of: v)) has too many elements (the limit is 2^48)", pos)
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
        if graph.nodes.count > options.maxNodes {
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
