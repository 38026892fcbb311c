// The syntax tree of a .swiftgraph file. Every node keeps the position of its first token so
// errors and graph nodes point at the DSL text that caused them.

struct Pos: Equatable {
    var line: Int
    var column: Int
}

struct Argument {
    var label: String?
    var value: Expr
    var pos: Pos
}

/// A closure, allowed only as `Sequential { ... }` (a list of layers) or
/// `Module { x in ... }` (a forward function).
struct Closure {
    var params: [String]
    /// Optional annotations `{ (x: Tensor) in ... }`, checked when the module is called.
    var types: [TypeName?]
    var body: [Stmt]
    var pos: Pos
}

indirect enum ExprKind {
    case integer(Int)
    case float(Double)
    case string(String)
    case bool(Bool)
    case identifier(String)
    /// `.same`, `.int64`, `.uniform(-0.1, 0.1)` (the call wraps it).
    case implicitMember(String)
    case member(Expr, String)
    case call(Expr, [Argument], Closure?)
    case subscriptAccess(Expr, [Argument])
    case unary(String, Expr)
    case binary(String, Expr, Expr)
    /// `a...` (partial range from a).
    case postfixRange(Expr)
    case ternary(Expr, Expr, Expr)
    case tuple([Expr])
    case array([Expr])
}

final class Expr {
    let kind: ExprKind
    let pos: Pos
    init(_ kind: ExprKind, _ pos: Pos) { self.kind = kind; self.pos = pos }
}

indirect enum Pattern {
    case name(String, Pos)
    case wildcard(Pos)
    case tuple([Pattern], Pos)

    var pos: Pos {
        switch self {
        case .name(_, let p), .wildcard(let p), .tuple(_, let p): return p
        }
    }
}

struct FuncParam {
    var label: String?
    var name: String
    var type: TypeName
    var defaultValue: Expr?
    var pos: Pos
}

/// A type annotation as written: `Int`, `[Tensor]`, `(Tensor, Tensor)`, `Module`.
indirect enum TypeName: CustomStringConvertible {
    case named(String)
    case array(TypeName)
    case tuple([TypeName])

    var description: String {
        switch self {
        case .named(let n): return n
        case .array(let t): return "[\(t)]"
        case .tuple(let ts): return "(" + ts.map(\.description).joined(separator: ", ") + ")"
        }
    }
}

final class FuncDecl {
    let name: String
    let params: [FuncParam]
    let returnType: TypeName?
    let body: [Stmt]
    let pos: Pos
    init(name: String, params: [FuncParam], returnType: TypeName?, body: [Stmt], pos: Pos) {
        self.name = name; self.params = params; self.returnType = returnType; self.body = body; self.pos = pos
    }
}

struct Binding {
    var pattern: Pattern
    var type: TypeName?
    var value: Expr?
}

enum StmtKind {
    case declaration(isLet: Bool, [Binding])
    /// `target op= value` with op "" for plain `=`.
    case assignment(Expr, String, Expr)
    case expression(Expr)
    case forIn(Pattern, Expr, [Stmt])
    case ifElse(Expr, [Stmt], [Stmt]?)
    case function(FuncDecl)
    case returnValue(Expr?)
}

struct Stmt {
    var kind: StmtKind
    var pos: Pos
}
