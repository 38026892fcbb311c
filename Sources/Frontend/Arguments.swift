import GraphIR

/// One parameter of a builtin's signature: its Swift label (nil for `_`), the name used in
/// messages, and whether it may be left out.
struct ParamSpec {
    var label: String?
    var name: String
    var optional: Bool

    static func positional(_ name: String, optional: Bool = false) -> ParamSpec { ParamSpec(label: nil, name: name, optional: optional) }
    static func labelled(_ label: String, optional: Bool = true) -> ParamSpec { ParamSpec(label: label, name: label, optional: optional) }
}

struct EvaluatedArgument {
    var label: String?
    var value: Val
    var pos: Pos
}

/// A call's arguments matched against a signature, with typed readers whose errors name the
/// callee, the argument and what was passed.
struct BoundArguments {
    let callee: String
    let pos: Pos
    private var values: [String: EvaluatedArgument]

    /// Swift's rule: arguments come in the signature's order and labels must match; parameters
    /// with defaults may be skipped.
    init(_ args: [EvaluatedArgument], _ spec: [ParamSpec], callee: String, pos: Pos) throws {
        self.callee = callee; self.pos = pos
        values = [:]
        let signature = "\(callee)(" + spec.map { ($0.label ?? "_") + ":" }.joined() + ")"
        var j = 0
        for arg in args {
            var k = j
            while k < spec.count && spec[k].label != arg.label { k += 1 }
            guard k < spec.count else {
                if let label = arg.label {
                    if spec.contains(where: { $0.label == label }) {
                        throw DSLError("argument `\(label):` is out of order or repeated in call to `\(callee)`; the signature is \(signature)",
                                       line: arg.pos.line, column: arg.pos.column)
                    }
                    let hint = Suggestions.hint(label, spec.compactMap(\.label), suffix: ":")
                    throw DSLError("`\(callee)` has no argument labelled `\(label):`\(hint); the signature is \(signature)",
                                   line: arg.pos.line, column: arg.pos.column)
                }
                if spec.contains(where: { $0.label == nil }) || spec.isEmpty {
                    throw DSLError("extra argument in call to `\(callee)`; the signature is \(signature)", line: arg.pos.line, column: arg.pos.column)
                }
                throw DSLError("missing argument label in call to `\(callee)`; the signature is \(signature)", line: arg.pos.line, column: arg.pos.column)
            }
            for skipped in spec[j..<k] where !skipped.optional {
                throw DSLError("missing argument \(BoundArguments.describe(skipped)) in call to `\(callee)`; the signature is \(signature)",
                               line: arg.pos.line, column: arg.pos.column)
            }
            values[spec[k].name] = arg
            j = k + 1
        }
        for rest in spec[j...] where !rest.optional {
            throw DSLError("missing argument \(BoundArguments.describe(rest)) in call to `\(callee)`; the signature is \(signature)",
                           line: pos.line, column: pos.column)
        }
    }

    private static func describe(_ p: ParamSpec) -> String { p.label.map { "`\($0):`" } ?? "`\(p.name)`" }

    func has(_ name: String) -> Bool { values[name] != nil }
    func raw(_ name: String) -> EvaluatedArgument? { values[name] }
    func position(_ name: String) -> Pos { values[name]?.pos ?? pos }

    func wrongType(_ name: String, _ want: String) -> DSLError {
        let a = values[name]
        let got = a.map { describeValue($0.value) } ?? "nothing"
        let argName = a?.label.map { "`\($0):`" } ?? "`\(name)`"
        return DSLError("argument \(argName) of `\(callee)` must be \(want), got \(got)",
                        line: (a?.pos ?? pos).line, column: (a?.pos ?? pos).column)
    }

    func int(_ name: String, default d: Int? = nil) throws -> Int {
        guard let a = values[name] else {
            if let d { return d }
            throw DSLError("missing argument `\(name)` in call to `\(callee)`", line: pos.line, column: pos.column)
        }
        guard case .int(let v) = a.value else { throw wrongType(name, "an Int") }
        return v
    }

    func positiveInt(_ name: String, default d: Int? = nil) throws -> Int {
        let v = try int(name, default: d)
        let p = position(name)
        guard v > 0 else {
            throw DSLError("argument `\(name)` of `\(callee)` must be positive, got \(v)", line: p.line, column: p.column)
        }
        guard v <= TensorLimits.maxDimension else {
            throw DSLError("argument `\(name)` of `\(callee)` is too large (\(v); the limit is \(TensorLimits.maxDimension))", line: p.line, column: p.column)
        }
        return v
    }

    func double(_ name: String, default d: Double? = nil) throws -> Double {
        guard let a = values[name] else {
            if let d { return d }
            throw DSLError("missing argument `\(name)` in call to `\(callee)`", line: pos.line, column: pos.column)
        }
        switch a.value {
        case .float(let v): return v
        case .int(let v): return Double(v)
        default: throw wrongType(name, "a number")
        }
    }

    func bool(_ name: String, default d: Bool) throws -> Bool {
        guard let a = values[name] else { return d }
        guard case .bool(let v) = a.value else { throw wrongType(name, "a Bool") }
        return v
    }

    func string(_ name: String) throws -> String {
        guard let a = values[name], case .string(let v) = a.value else { throw wrongType(name, "a String") }
        return v
    }

    func tensor(_ name: String) throws -> Value {
        guard let a = values[name], case .tensor(let v) = a.value else { throw wrongType(name, "a tensor") }
        return v
    }

    func value(_ name: String) -> Val? { values[name]?.value }
}

/// How a value reads in an error message.
func describeValue(_ v: Val, graph: GraphBuilder? = nil) -> String {
    switch v {
    case .int(let n): return "the Int \(n)"
    case .float(let d): return "the Double \(d)"
    case .bool(let b): return "the Bool \(b)"
    case .string(let s): return "the String \"\(s)\""
    case .tensor(let t):
        if let g = DescribeContext.graph ?? graph { return "a tensor \(g.type(of: t))" }
        return "a tensor"
    case .symbol(let s): return "the symbolic dimension \(s)"
    case .enumCase(let n, _): return "`.\(n)`"
    case .tuple(let items): return "a tuple of \(items.count) values"
    case .array(let box): return "an array of \(box.items.count) values"
    case .range: return "a range"
    case .module(let m): return "the layer `\(m.localName ?? m.typeName)` (\(m.typeName))"
    case .function(let f, _): return "the function `\(f.name)`"
    case .void: return "no value"
    }
}

/// The graph being lowered, so messages can print tensor types. Set by the lowering for the
/// duration of one `lower` call on its thread.
enum DescribeContext {
    @TaskLocal static var graph: GraphBuilder?
}

/// Sizes the frontend accepts, so element counts never overflow an Int anywhere downstream.
enum TensorLimits {
    static let maxDimension = 1 << 31
    static let maxElements = 1 << 48

    /// The product of the known dimensions, or nil when it exceeds `maxElements`.
    static func knownElements(_ s: Shape) -> Int? {
        var n = 1
        for d in s.dims {
            guard case .known(let k) = d, k > 0 else { continue }
            let (r, o) = n.multipliedReportingOverflow(by: k)
            guard !o, r <= maxElements else { return nil }
            n = r
        }
        return n
    }
}
