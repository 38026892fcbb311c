// A chain (a tree) of element-by-element ops run as one loop over blocks of elements.

/// One instruction of a `fused_elementwise` program. Operands are registers: inputs first
/// (0..<inputs), then one register per instruction in order. Ops taking a constant carry
/// its Float bit pattern in place of the second register.
public enum ElementwiseOpcode: Int, CaseIterable, Sendable {
    case relu = 0, sigmoid, tanh, exp, log, neg
    /// a * constant
    case scale
    /// max(a, constant), min(a, constant): the two halves of clamp.
    case maxConstant, minConstant
    case add = 10, sub, mul, div
    /// relu_grad(dy = a, x = b)
    case reluGrad

    public var isUnary: Bool { rawValue < ElementwiseOpcode.add.rawValue }
    public var takesConstant: Bool { self == .scale || self == .maxConstant || self == .minConstant }
    public var mnemonic: String {
        switch self {
        case .relu: return "relu"
        case .sigmoid: return "sigmoid"
        case .tanh: return "tanh"
        case .exp: return "exp"
        case .log: return "log"
        case .neg: return "neg"
        case .scale: return "scale"
        case .maxConstant: return "max"
        case .minConstant: return "min"
        case .add: return "add"
        case .sub: return "sub"
        case .mul: return "mul"
        case .div: return "div"
        case .reluGrad: return "relu_grad"
        }
    }
}

/// A decoded, checked program: (opcode, a, b) per instruction.
public struct ElementwiseProgram: Equatable {
    public var inputs: Int
    public var code: [(op: ElementwiseOpcode, a: Int, b: Int)]

    public init(inputs: Int, code: [(op: ElementwiseOpcode, a: Int, b: Int)]) { self.inputs = inputs; self.code = code }

    public static func == (l: ElementwiseProgram, r: ElementwiseProgram) -> Bool {
        l.inputs == r.inputs && l.code.count == r.code.count && zip(l.code, r.code).allSatisfy { $0.op == $1.op && $0.a == $1.a && $0.b == $1.b }
    }

    /// The `program` attribute: a flat list of triples.
    public var encoded: [Int] { code.flatMap { [$0.op.rawValue, $0.a, $0.b] } }

    /// `r2 = mul(r0, r1); r3 = scale(r2, 0.5)`, for people reading the IR.
    public var text: String {
        code.enumerated().map { i, ins in
            let dst = "r\(inputs + i)"
            if ins.op.takesConstant { return "\(dst) = \(ins.op.mnemonic)(r\(ins.a), \(Float(bitPattern: UInt32(truncatingIfNeeded: ins.b))))" }
            if ins.op.isUnary { return "\(dst) = \(ins.op.mnemonic)(r\(ins.a))" }
            return "\(dst) = \(ins.op.mnemonic)(r\(ins.a), r\(ins.b))"
        }.joined(separator: "; ")
    }

    /// Decodes and checks a `program` attribute: every operand names an earlier register.
    public init(inputs: Int, encoded: [Int]) throws {
        guard !encoded.isEmpty, encoded.count % 3 == 0 else { throw ShapeError("program must be a non-empty list of (opcode, a, b) triples") }
        self.inputs = inputs
        code = []
        for i in stride(from: 0, to: encoded.count, by: 3) {
            guard let op = ElementwiseOpcode(rawValue: encoded[i]) else { throw ShapeError("unknown opcode \(encoded[i]) in program") }
            let available = inputs + code.count
            let a = encoded[i + 1], b = encoded[i + 2]
            guard a >= 0, a < available else { throw ShapeError("instruction \(code.count) reads register \(a), not yet defined") }
            if !op.isUnary { guard b >= 0, b < available else { throw ShapeError("instruction \(code.count) reads register \(b), not yet defined") } }
            if op.takesConstant { guard b >= Int(Int32.min), b <= Int(UInt32.max) else { throw ShapeError("instruction \(code.count): constant out of range") } }
            code.append((op, a, b))
        }
    }
}

/// `fused_elementwise(x0, x1, ...) {program, expr, offsets?, width?}`: runs the program per
/// element. Every input has the output's shape or is a single value (broadcast), except,
/// with `offsets` (one per input, -1 for none) and `width`, inputs read through a window of
/// their last axis: output element (r, j) of [..., width] reads input [..., C] at (r,
/// offset + j), which is how the four gates of an LSTM cell are read out of one [B, 4H]
/// product without copying them. The fusion pass makes it after autodiff; it has no
/// gradient rule (autodiff refuses it).
public enum FusedElementwiseOp: OpSpec {
    public static let name = "fused_elementwise"
    public static let arity = Arity.atLeast(1)
    public static let fusion = FusionClass.elementwise
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        for i in q.inputs.indices { try q.requireFloat(i) }
        guard let encoded = q.attributes.ints("program") else { throw ShapeError("missing attribute 'program'") }
        _ = try ElementwiseProgram(inputs: q.inputs.count, encoded: encoded)
        let offsets = q.attributes.ints("offsets") ?? Array(repeating: -1, count: q.inputs.count)
        guard offsets.count == q.inputs.count else { throw ShapeError("'offsets' needs one entry per input (\(q.inputs.count)), got \(offsets.count)") }
        var shape: Shape
        if offsets.contains(where: { $0 >= 0 }) {
            guard let width = q.attributes.int("width"), width > 0 else { throw ShapeError("windowed inputs need a positive 'width'") }
            var lead: [Dim]?
            for (t, o) in zip(q.inputs, offsets) where o >= 0 {
                guard t.rank >= 1, let c = t.shape.dims.last?.value, o + width <= c else {
                    throw ShapeError("window \(o)..<\(o + width) does not fit the last axis of \(t)")
                }
                let l = Array(t.shape.dims.dropLast())
                guard lead == nil || lead == l else { throw ShapeError("windowed inputs differ in their leading dimensions") }
                lead = l
            }
            shape = Shape((lead ?? []) + [.known(width)])
        } else {
            shape = q.input(0).shape
            for t in q.inputs.dropFirst() { shape = try broadcastShapes(shape, t.shape) }
        }
        for (t, o) in zip(q.inputs, offsets) where o < 0 && t.shape != shape && !t.shape.isSingleElement {
            throw ShapeError("input \(t) is neither the output's shape \(shape) nor a single value")
        }
        return .f32(shape)
    }
}

extension Shape {
    /// Every dimension a known 1 (or none at all).
    var isSingleElement: Bool { dims.allSatisfy { $0 == .known(1) } }
}

extension OpDef {
    public static let fusedElementwise = OpDef(FusedElementwiseOp.self)
}
