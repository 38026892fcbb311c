/// A compile-time attribute of an op: strides, an axis, a dropout rate, an initialiser name.
public enum Attribute: Hashable, Sendable, CustomStringConvertible {
    case int(Int)
    case float(Double)
    case ints([Int])
    case string(String)
    case bool(Bool)
    case shape(Shape)

    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .float(let v): return Attribute.format(v)
        case .ints(let v): return "[" + v.map(String.init).joined(separator: ",") + "]"
        case .string(let s): return Attribute.quote(s)
        case .bool(let b): return b ? "true" : "false"
        case .shape(let s): return "shape" + s.description
        }
    }

    /// Doubles print so that reading them back gives the same bits, and always with a `.` or
    /// exponent so the IR parser can tell them from integers.
    public static func format(_ v: Double) -> String {
        if v.isNaN { return "nan" }
        if v.isInfinite { return v < 0 ? "-inf" : "inf" }
        let s = String(v)
        return (s.contains(".") || s.contains("e")) ? s : s + ".0"
    }

    public static func quote(_ s: String) -> String {
        var out = "\""
        for ch in s {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(ch)
            }
        }
        return out + "\""
    }
}

/// Attributes keep insertion order so printed IR is stable and reads in declaration order.
public struct Attributes: Hashable, Sendable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var entries: [(key: String, value: Attribute)] = []

    public init() {}
    public init(dictionaryLiteral elements: (String, Attribute)...) {
        for (k, v) in elements { self[k] = v }
    }

    public subscript(key: String) -> Attribute? {
        get { entries.first { $0.key == key }?.value }
        set {
            if let i = entries.firstIndex(where: { $0.key == key }) {
                if let v = newValue { entries[i].value = v } else { entries.remove(at: i) }
            } else if let v = newValue {
                entries.append((key, v))
            }
        }
    }

    public var isEmpty: Bool { entries.isEmpty }
    public func makeIterator() -> IndexingIterator<[(key: String, value: Attribute)]> { entries.makeIterator() }

    public static func == (a: Attributes, b: Attributes) -> Bool {
        a.entries.count == b.entries.count && zip(a.entries, b.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
    public func hash(into h: inout Hasher) {
        for e in entries { h.combine(e.key); h.combine(e.value) }
    }

    // Typed readers used by shape rules and kernels. A missing or mistyped attribute is an
    // error the verifier reports, so readers here return optionals.
    public func int(_ k: String) -> Int? { if case .int(let v)? = self[k] { return v }; return nil }
    public func float(_ k: String) -> Double? {
        switch self[k] {
        case .float(let v)?: return v
        case .int(let v)?: return Double(v)
        default: return nil
        }
    }
    public func ints(_ k: String) -> [Int]? { if case .ints(let v)? = self[k] { return v }; return nil }
    public func string(_ k: String) -> String? { if case .string(let v)? = self[k] { return v }; return nil }
    public func bool(_ k: String) -> Bool? { if case .bool(let v)? = self[k] { return v }; return nil }
    public func shape(_ k: String) -> Shape? { if case .shape(let v)? = self[k] { return v }; return nil }
}
