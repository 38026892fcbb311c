import GraphIR

// Expression evaluation and operators at compile time.
extension Lowerer {
    // MARK: expressions

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
            return .array(ArrayBox(builder.type(of: t).shape.dims.map { d -> Val in
                switch d { case .known(let k): return .int(k); case .symbol(let s): return .symbol(s) }
            }))
        case (.tensor(let t), "rank"): return .int(builder.type(of: t).rank)
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
            if op == "+" {
                // Strings only name things; a doubling loop must not eat the machine's memory.
                guard x.utf8.count + y.utf8.count <= 1 << 16 else { throw error("string is too long (more than 65,536 bytes)", rhsPos) }
                return .string(x + y)
            }
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
            guard x <= y else { throw error("range \(x)...\(y) has its lower bound above its upper bound", pos) }
            // Ranges are kept half-open: y + 1 must fit.
            guard y < Int.max else { throw error("range \(x)...\(y): the upper bound is too large (use ..< or a smaller bound)", pos) }
            return .range(lower: x, upper: y + 1)
        default:
            throw error("operator `\(op)` cannot be applied to Ints", pos)
        }
    }
}
