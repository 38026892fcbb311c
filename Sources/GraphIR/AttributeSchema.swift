// Typed attributes: every op declares the attributes it reads (`OpSpec.attributes`), and the
// verifier and the IR parser check nodes against that declaration. Rules and kernels read
// attributes through `AttributeKey`s, so a misspelled name is a compile error, not a nil.

/// The kinds of value an attribute holds, as the IR text writes them.
public enum AttributeType: String, Sendable {
    case int, float, ints, string, bool, shape

    /// "an integer", for messages: "needs an integer attribute 'axis'".
    public var phrase: String {
        switch self {
        case .int: return "an integer"
        case .float: return "a float"
        case .ints: return "an integer list"
        case .string: return "a string"
        case .bool: return "a boolean"
        case .shape: return "a shape"
        }
    }
}

/// A Swift type an attribute's value converts to and from.
public protocol AttributeValue: Sendable {
    static var attributeType: AttributeType { get }
    init?(_ attribute: Attribute)
    var attribute: Attribute { get }
}

extension Int: AttributeValue {
    public static var attributeType: AttributeType { .int }
    public init?(_ attribute: Attribute) { guard case .int(let v) = attribute else { return nil }; self = v }
    public var attribute: Attribute { .int(self) }
}
extension Double: AttributeValue {
    public static var attributeType: AttributeType { .float }
    /// An integer is a float value too (`value=1` reads as 1.0), as the readers always allowed.
    public init?(_ attribute: Attribute) {
        switch attribute {
        case .float(let v): self = v
        case .int(let v): self = Double(v)
        default: return nil
        }
    }
    public var attribute: Attribute { .float(self) }
}
extension Array: AttributeValue where Element == Int {
    public static var attributeType: AttributeType { .ints }
    public init?(_ attribute: Attribute) { guard case .ints(let v) = attribute else { return nil }; self = v }
    public var attribute: Attribute { .ints(self) }
}
extension String: AttributeValue {
    public static var attributeType: AttributeType { .string }
    public init?(_ attribute: Attribute) { guard case .string(let v) = attribute else { return nil }; self = v }
    public var attribute: Attribute { .string(self) }
}
extension Bool: AttributeValue {
    public static var attributeType: AttributeType { .bool }
    public init?(_ attribute: Attribute) { guard case .bool(let v) = attribute else { return nil }; self = v }
    public var attribute: Attribute { .bool(self) }
}
extension Shape: AttributeValue {
    public static var attributeType: AttributeType { .shape }
    public init?(_ attribute: Attribute) { guard case .shape(let v) = attribute else { return nil }; self = v }
    public var attribute: Attribute { .shape(self) }
}

/// The name and value type of an attribute. Keys are declared beside the ops that read them,
/// as static members of a constrained extension, so readers write `attributes[.axis]`:
///
///     extension AttributeKey where Value == Int { public static let axis = AttributeKey("axis") }
public struct AttributeKey<Value: AttributeValue>: Hashable, Sendable {
    public let name: String
    public init(_ name: String) { self.name = name }
}

extension Attributes {
    /// The value under `key`, nil when absent or of another type (the verifier reports both).
    public subscript<V: AttributeValue>(key: AttributeKey<V>) -> V? {
        get { self[key.name].flatMap(V.init) }
        set { self[key.name] = newValue?.attribute }
    }
}

extension ShapeQuery {
    /// The value of an attribute a shape rule cannot do without.
    public func required<V: AttributeValue>(_ key: AttributeKey<V>) throws -> V {
        guard let v = attributes[key] else { throw ShapeError("missing attribute '\(key.name)' (\(V.attributeType.phrase))") }
        return v
    }

    /// An integer list of exactly `count` values.
    public func required(_ key: AttributeKey<[Int]>, count: Int) throws -> [Int] {
        let v = try required(key)
        guard v.count == count else { throw ShapeError("attribute '\(key.name)' needs \(count) values, got \(v.count)") }
        return v
    }

    /// Normalises a possibly negative axis against `rank`.
    public func axis(_ key: AttributeKey<Int>, rank: Int) throws -> Int {
        let a = try required(key)
        let n = a < 0 ? a + rank : a
        guard n >= 0 && n < rank else { throw ShapeError("axis \(a) is out of range for rank \(rank)") }
        return n
    }
}

/// What values an attribute may take beyond its type.
public enum AttributeConstraint: Sendable, Equatable, CustomStringConvertible {
    /// An int or float at least `low` (strictly above it when `lowOpen`) and below `high`
    /// (or at most, when `highClosed`). Infinite bounds for one-sided ranges.
    case range(low: Double, lowOpen: Bool, high: Double, highClosed: Bool)
    /// Every element of an integer list at least `low`.
    case eachAtLeast(Int)
    /// A string out of a fixed set.
    case oneOf([String])
    /// A string that is not empty.
    case nonEmpty

    /// An int or float no less than `low`.
    public static func atLeast(_ low: Double) -> AttributeConstraint { .range(low: low, lowOpen: false, high: .infinity, highClosed: false) }
    /// An int or float in low..<high.
    public static func halfOpen(_ low: Double, _ high: Double) -> AttributeConstraint { .range(low: low, lowOpen: false, high: high, highClosed: false) }

    public var description: String {
        switch self {
        case .range(let lo, let lowOpen, let hi, let highClosed):
            if hi == .infinity { return lowOpen ? "above \(fmt(lo))" : "at least \(fmt(lo))" }
            if lo == -.infinity { return highClosed ? "at most \(fmt(hi))" : "below \(fmt(hi))" }
            return "in \(lowOpen ? "(" : "[")\(fmt(lo)), \(fmt(hi))\(highClosed ? "]" : ")")"
        case .eachAtLeast(let n): return "each element at least \(n)"
        case .oneOf(let options): return "one of " + options.map(Attribute.quote).joined(separator: ", ")
        case .nonEmpty: return "non-empty"
        }
    }

    private func fmt(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v) }

    func accepts(_ a: Attribute) -> Bool {
        switch (self, a) {
        case (.range(let lo, let lowOpen, let hi, let highClosed), _):
            guard let v = Double(a), !v.isNaN else { return false }
            return (lowOpen ? v > lo : v >= lo) && (highClosed ? v <= hi : v < hi)
        case (.eachAtLeast(let n), .ints(let v)): return v.allSatisfy { $0 >= n }
        case (.oneOf(let options), .string(let s)): return options.contains(s)
        case (.nonEmpty, .string(let s)): return !s.isEmpty
        default: return false
        }
    }
}

/// One attribute an op reads: its name, type, whether it must be there, and which values it
/// may take.
public struct AttributeSpec: Sendable, Equatable, CustomStringConvertible {
    public let name: String
    public let type: AttributeType
    public let isRequired: Bool
    public let constraint: AttributeConstraint?

    public init(name: String, type: AttributeType, isRequired: Bool, constraint: AttributeConstraint? = nil) {
        self.name = name; self.type = type; self.isRequired = isRequired; self.constraint = constraint
    }

    public static func required<V>(_ key: AttributeKey<V>, _ constraint: AttributeConstraint? = nil) -> AttributeSpec {
        AttributeSpec(name: key.name, type: V.attributeType, isRequired: true, constraint: constraint)
    }
    public static func optional<V>(_ key: AttributeKey<V>, _ constraint: AttributeConstraint? = nil) -> AttributeSpec {
        AttributeSpec(name: key.name, type: V.attributeType, isRequired: false, constraint: constraint)
    }

    /// "a float in [0, 1)", "a non-empty string", "an integer list, each element at least 1".
    public var expected: String {
        switch constraint {
        case nil: return type.phrase
        case .nonEmpty?: return "a non-empty " + type.rawValue
        case .some(let c): return "\(type.phrase), \(c.description)"
        }
    }

    public var description: String { "\(name): \(expected)\(isRequired ? "" : " (optional)")" }

    /// "missing attribute 'p' (a float, in [0, 1))".
    var missingMessage: String { "missing attribute '\(name)' (\(expected))" }

    /// Why `value` does not fit, or nil.
    public func problem(with value: Attribute) -> String? {
        let typeFits: Bool
        switch (type, value) {
        case (.int, .int), (.float, .float), (.float, .int), (.ints, .ints), (.string, .string), (.bool, .bool), (.shape, .shape):
            typeFits = true
        default:
            typeFits = false
        }
        guard typeFits, constraint?.accepts(value) ?? true else {
            return "attribute '\(name)' must be \(expected), got \(value)"
        }
        return nil
    }

    /// Attributes a pass may put on any node to show an analysis in the IR: the memory plan's
    /// `arena=[offset, bytes]` and `in_place=%k`, and for values computed once from the
    /// parameters `cached=[offset, bytes]` or `cached_temp=[offset, bytes]`.
    public static let annotations: [AttributeSpec] = [.optional(.arena, .eachAtLeast(0)), .optional(.inPlace),
                                                      .optional(.cached, .eachAtLeast(0)), .optional(.cachedTemp, .eachAtLeast(0))]
}

extension AttributeKey where Value == [Int] {
    /// `[offset, bytes]` of the node's region in the memory plan's arena.
    public static let arena = AttributeKey("arena")
    /// `[offset, bytes]` of a value computed once from the parameters, in the region kept
    /// between runs (`ParameterDerivedValues`).
    public static let cached = AttributeKey("cached")
    /// `[offset, bytes]` of a value computed once from the parameters that only other such
    /// values read, in scratch memory held only while they are computed.
    public static let cachedTemp = AttributeKey("cached_temp")
}
extension AttributeKey where Value == String {
    /// `%k`: the memory plan writes the node's result over input %k.
    public static let inPlace = AttributeKey("in_place")
}

/// An attribute that does not fit its op's declaration.
public struct AttributeError: Error, CustomStringConvertible {
    /// The attribute at fault (for a missing one, the one that should be there).
    public let attribute: String
    public let message: String
    public var description: String { message }
}

/// Checks a node's attributes against its op's declaration (and the annotations every node
/// may carry): no unknown attribute, every value of its declared type and range, every
/// required attribute present. Cross-attribute and input-dependent rules (`min <= max`, a
/// permutation of the axes) stay with the shape rule.
public func checkAttributes(of node: Node) throws {
    try checkAttributes(node.attributes, of: node.op)
}

public func checkAttributes(_ attributes: Attributes, of op: OpDef) throws {
    let declared = op.attributes
    for (key, value) in attributes {
        guard let spec = declared.first(where: { $0.name == key }) ?? AttributeSpec.annotations.first(where: { $0.name == key }) else {
            let known = declared.isEmpty ? "\(op.name) takes no attributes" : "\(op.name) takes " + declared.map(\.name).joined(separator: ", ")
            throw AttributeError(attribute: key, message: "unknown attribute '\(key)' (\(known))")
        }
        if let problem = spec.problem(with: value) { throw AttributeError(attribute: key, message: problem) }
    }
    for spec in declared where spec.isRequired && attributes[spec.name] == nil {
        throw AttributeError(attribute: spec.name, message: spec.missingMessage)
    }
}
