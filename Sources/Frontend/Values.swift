import GraphIR

/// A compile-time value of the DSL. Only `.tensor` values live in the graph; everything else
/// (numbers, layers, lists) exists while the file is lowered.
enum Val {
    case int(Int)
    case float(Double)
    case bool(Bool)
    case string(String)
    case tensor(Value)
    /// A symbolic dimension such as `batch` (printed `B`).
    case symbol(String)
    /// `.same`, `.int64`, `.train`, `.uniform(-0.1, 0.1)`.
    case enumCase(String, [Val])
    case tuple([Val])
    /// Arrays are boxed so `scores.append(x)` in an unrolled loop is O(1); binding a value
    /// copies the box (`copied()`), which keeps Swift's value semantics.
    case array(ArrayBox)
    /// Integer ranges; a bound is nil in partial ranges (`1...`, `..<n`). `upper` is exclusive.
    case range(lower: Int?, upper: Int?)
    case module(ModuleInstance)
    /// A user `func` and the scope it was declared in.
    case function(FuncDecl, Scope)
    case void

    func copied() -> Val {
        if case .array(let box) = self { return .array(ArrayBox(box.items)) }
        return self
    }
}

final class ArrayBox {
    var items: [Val]
    init(_ items: [Val]) { self.items = items }
}

/// A parameter initialiser, recorded on `param` nodes as attributes.
enum InitSpec {
    case uniform(bound: Double)
    case normal(std: Double)
    case zeros
    case ones

    var attributes: Attributes {
        switch self {
        case .uniform(let b): return ["init": .string("uniform"), "bound": .float(b)]
        case .normal(let s): return ["init": .string("normal"), "std": .float(s)]
        case .zeros: return ["init": .string("zeros")]
        case .ones: return ["init": .string("ones")]
        }
    }
}

enum Padding {
    case explicit(Int)
    case same
}

/// What a module computes; configured by its constructor, sized at its first call.
enum LayerKind {
    case linear(out: Int, in: Int?, bias: Bool, weightInit: InitSpec?, biasInit: InitSpec?)
    case conv2d(out: Int, in: Int?, kernel: Int, stride: Int, padding: Padding, bias: Bool, weightInit: InitSpec?, biasInit: InitSpec?)
    case maxpool2d(kernel: Int, stride: Int, padding: Int)
    case activation(OpDef)
    case dropout(Double)
    case flatten
    case softmax(axis: Int, log: Bool)
    case embedding(vocab: Int, dim: Int, weightInit: InitSpec?)
    case lstmCell(input: Int, hidden: Int)
    case batchNorm(features: Int?, eps: Double)
    case attention(encoder: Int, decoder: Int, attention: Int)
    case sequential([ModuleInstance])
    /// `Module { x in ... }`: a forward closure run in the scope it was written in.
    case custom(Closure, Scope)
    /// A `func ... -> Module` whose body has not reached `return Module { ... }` yet.
    case pending
    case identity
}

/// One layer instance. Its path (`layer2.0.downsample.0`) comes from the names it is bound to
/// and is fixed at its first call, when its parameters are created.
final class ModuleInstance {
    var kind: LayerKind
    var typeName: String
    let pos: Pos
    weak var parent: ModuleInstance?
    var localName: String?
    private var childNames: Set<String> = []
    /// Parameters by their local name (`weight`, `bias_ih`); set at the first call.
    var params: [String: Value] = [:]
    var called = false
    var path = ""
    /// Sub-modules a composite layer (attention) made for itself.
    var builtinChildren: [ModuleInstance] = []
    /// AdditiveAttention: `encoder_att(features)` per features tensor, shared by every step.
    var encoderProjections: [Value: Value] = [:]

    init(kind: LayerKind, typeName: String, pos: Pos) { self.kind = kind; self.typeName = typeName; self.pos = pos }

    /// Makes `child` a named child, renaming it `name_1`, `name_2`, ... if the name is taken.
    func adopt(_ child: ModuleInstance, as name: String) {
        var unique = name
        var k = 1
        while childNames.contains(unique) { unique = "\(name)_\(k)"; k += 1 }
        childNames.insert(unique)
        child.parent = self
        child.localName = unique
    }

    /// The dotted path from the root.
    func computePath(root: ModuleInstance) -> String {
        var parts: [String] = []
        var m: ModuleInstance? = self
        var guardCount = 0
        while let cur = m, cur !== root, guardCount < 10_000 {
            parts.append(cur.localName ?? cur.typeName.lowercased())
            m = cur.parent
            guardCount += 1
        }
        return parts.reversed().joined(separator: ".")
    }
}

struct Variable {
    var value: Val
    var isLet: Bool
}

/// Who owns the layers bound with `let` in a piece of code: the root, or the module a
/// `func ... -> Module` is building.
final class Frame {
    let owner: ModuleInstance
    /// True in the body of a `func` declared `-> Module`: `Module { }` then names that module.
    let buildsModule: Bool
    init(owner: ModuleInstance, buildsModule: Bool) { self.owner = owner; self.buildsModule = buildsModule }
}

final class Scope {
    var vars: [String: Variable] = [:]
    let parent: Scope?
    let frame: Frame

    init(parent: Scope?, frame: Frame) { self.parent = parent; self.frame = frame }

    func lookup(_ name: String) -> Variable? {
        var s: Scope? = self
        while let cur = s {
            if let v = cur.vars[name] { return v }
            s = cur.parent
        }
        return nil
    }

    /// The scope that declares `name`.
    func owner(of name: String) -> Scope? {
        var s: Scope? = self
        while let cur = s {
            if cur.vars[name] != nil { return cur }
            s = cur.parent
        }
        return nil
    }
}

/// lowerCamelCase to PyTorch's snake_case: `decodeStep` -> `decode_step`, `initH` -> `init_h`.
func snakeCase(_ name: String) -> String {
    var out = ""
    var previousLower = false
    for ch in name {
        if ch.isUppercase {
            if previousLower { out.append("_") }
            out += ch.lowercased()
            previousLower = false
        } else {
            out.append(ch)
            previousLower = ch.isLowercase || ch.isNumber
        }
    }
    return out
}
