import GraphIR

/// Runs a parsed .swiftgraph program at compile time and builds the graph. Statements are
/// run here, expressions in Expressions.swift, calls in Calls.swift; builtin functions live
/// in Builtins.swift and layers in Layers.swift.
final class Lowerer {
    let file: String
    let options: FrontendOptions
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
    /// Bounds the interpreter's recursion (nested expressions inside nested calls) so that
    /// no program can overflow the stack.
    var nesting = 0
    static let maxNesting = 400
    /// Every module made, to re-parent the children of a `func -> Module` that returns
    /// another module.
    var modules: [ModuleInstance] = []

    init(file: String, options: FrontendOptions) {
        self.file = file
        self.options = options
        let base = file.split(separator: "/").last.map(String.init) ?? file
        let name = base.hasSuffix(".swiftgraph") ? String(base.dropLast(".swiftgraph".count)) : base
        builder = GraphBuilder(name: name.isEmpty ? "graph" : name)
        root = ModuleInstance(kind: .identity, typeName: "<root>", pos: Pos(line: 1, column: 1))
        globals = Scope(parent: nil, frame: Frame(owner: root, buildsModule: false))
    }

    func run(_ program: [Stmt]) throws {
        builder.metadata["mode"] = .string(options.mode.rawValue)
        if case .returned(_, let p) = try exec(program, globals) {
            throw DSLError("`return` outside a function", line: p.line, column: p.column)
        }
        if let tp = trainPos, options.mode == .train, builder.loss == nil {
            throw DSLError("`train(...)` is declared but the graph has no loss in mode .train; declare one with `loss(expr)`",
                           line: tp.line, column: tp.column)
        }
        if builder.loss == nil && builder.outputs.isEmpty {
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
}
