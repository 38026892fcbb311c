// A chain (a tree) of element-by-element ops run as one loop over blocks of elements.

extension AttributeKey where Value == [Int] {
    /// A `fused_elementwise` program: its instructions, encoded as `ElementwiseProgram` says.
    public static let program = AttributeKey("program")
    /// Per input, the start of the window of its last axis it is read through (-1: none).
    public static let offsets = AttributeKey("offsets")
}
extension AttributeKey where Value == String {
    /// The program as text, for people reading the IR.
    public static let expr = AttributeKey("expr")
}
extension AttributeKey where Value == Int {
    /// The width of the windows given by `offsets`.
    public static let width = AttributeKey("width")
}

/// One instruction of a `fused_elementwise` program: an elementwise op (by its `opcode`,
/// `ElementwiseOp`) on registers `a` (and `b` for a binary op) with the op's constants.
/// Registers are the inputs first (0..<inputs), then one per instruction in order.
public struct ElementwiseInstruction: Equatable, Sendable {
    public var opcode: Int
    public var a: Int
    /// The second operand's register; 0 for a unary op.
    public var b: Int
    public var constants: ScalarConstants

    public init(opcode: Int, a: Int, b: Int = 0, constants: ScalarConstants = ScalarConstants()) {
        self.opcode = opcode; self.a = a; self.b = b; self.constants = constants
    }

    /// The instruction's op (nil for an unknown opcode).
    public var op: OpDef? { OpRegistry.byOpcode[opcode] }
}

/// A decoded, checked program. In the `program` attribute an instruction is its opcode, its
/// operand registers, then its constants as f32 bit patterns, padded with zeros to at
/// least three numbers: `[relu, a, 0]`, `[add, a, b]`, `[scale, a, factor]`, `[clamp, a,
/// min, max]`.
public struct ElementwiseProgram: Equatable {
    public var inputs: Int
    public var code: [ElementwiseInstruction]

    public init(inputs: Int, code: [ElementwiseInstruction]) { self.inputs = inputs; self.code = code }

    /// Operand and constant counts of each opcode's instructions, indexed by opcode (from
    /// `OpRegistry.byOpcode`), so decoding, which kernels do on every call, copies no op
    /// declarations.
    static let layouts: [(operands: Int, constants: Int)?] = {
        var t = [(operands: Int, constants: Int)?](repeating: nil, count: (OpRegistry.byOpcode.keys.max() ?? -1) + 1)
        for (code, op) in OpRegistry.byOpcode {
            if let f = op.scalarFunction { t[code] = (f.operandCount, f.constantNames.count) }
        }
        return t
    }()

    static func layout(_ opcode: Int) -> (operands: Int, constants: Int)? {
        opcode >= 0 && opcode < layouts.count ? layouts[opcode] : nil
    }

    /// Numbers an instruction takes in the encoding.
    static func width(operands: Int, constants: Int) -> Int { max(3, 1 + operands + constants) }

    /// The `program` attribute.
    public var encoded: [Int] {
        code.flatMap { ins -> [Int] in
            guard let f = ins.op?.scalarFunction else { return [] }
            var words = [ins.opcode, ins.a] + (f.operandCount > 1 ? [ins.b] : [])
            words += ins.constants.prefix(f.constantNames.count).map { Int($0.bitPattern) }
            let width = ElementwiseProgram.width(operands: f.operandCount, constants: f.constantNames.count)
            return words + Array(repeating: 0, count: width - words.count)
        }
    }

    /// `r2 = mul(r0, r1); r3 = scale(r2, 0.5)`, for people reading the IR.
    public var text: String {
        code.enumerated().map { i, ins in
            guard let op = ins.op, let f = op.scalarFunction else { return "r\(inputs + i) = ?" }
            let operands = ["r\(ins.a)"] + (f.operandCount > 1 ? ["r\(ins.b)"] : [])
            let constants = ins.constants.prefix(f.constantNames.count).map { "\($0)" }
            return "r\(inputs + i) = \(op.name)(\((operands + constants).joined(separator: ", ")))"
        }.joined(separator: "; ")
    }

    /// Decodes and checks a `program` attribute: known opcodes, every operand an earlier
    /// register, constants f32 bit patterns, padding zeros.
    public init(inputs: Int, encoded: [Int]) throws {
        guard !encoded.isEmpty else { throw ShapeError("program must be a non-empty list of instructions") }
        self.inputs = inputs
        code = []
        code.reserveCapacity(encoded.count / 3)
        var i = 0
        while i < encoded.count {
            let n = code.count
            guard let layout = ElementwiseProgram.layout(encoded[i]) else { throw ShapeError("unknown opcode \(encoded[i]) in program") }
            let width = ElementwiseProgram.width(operands: layout.operands, constants: layout.constants)
            guard i + width <= encoded.count else { throw ShapeError("program ends inside instruction \(n)") }
            for r in encoded[(i + 1)...(i + layout.operands)] where r < 0 || r >= inputs + n {
                throw ShapeError("instruction \(n) reads register \(r), not yet defined")
            }
            var k = ScalarConstants()
            for c in 0..<layout.constants {
                let word = encoded[i + 1 + layout.operands + c]
                guard word >= Int(Int32.min), word <= Int(UInt32.max) else { throw ShapeError("instruction \(n): constant out of range") }
                let value = Float(bitPattern: UInt32(truncatingIfNeeded: word))
                if c == 0 { k.first = value } else { k.second = value }
            }
            for p in (1 + layout.operands + layout.constants)..<width where encoded[i + p] != 0 {
                throw ShapeError("instruction \(n): padding must be 0")
            }
            code.append(ElementwiseInstruction(opcode: encoded[i], a: encoded[i + 1], b: layout.operands > 1 ? encoded[i + 2] : 0,
                                               constants: k))
            i += width
        }
    }

    /// Calls `body` with each instruction of `encoded`, a program `init(inputs:encoded:)`
    /// accepts, without allocating (kernels decode on every call). Stops at an instruction
    /// it cannot read.
    public static func forEachInstruction(in encoded: [Int], _ body: (ElementwiseInstruction) -> Void) {
        var i = 0
        while i < encoded.count, let layout = layout(encoded[i]) {
            let width = ElementwiseProgram.width(operands: layout.operands, constants: layout.constants)
            guard i + width <= encoded.count else { return }
            let c0 = layout.constants > 0 ? encoded[i + 1 + layout.operands] : 0
            let c1 = layout.constants > 1 ? encoded[i + 2 + layout.operands] : 0
            body(ElementwiseInstruction(opcode: encoded[i], a: encoded[i + 1], b: layout.operands > 1 ? encoded[i + 2] : 0,
                                        constants: ScalarConstants(Float(bitPattern: UInt32(truncatingIfNeeded: c0)),
                                                                   Float(bitPattern: UInt32(truncatingIfNeeded: c1)))))
            i += width
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
    public static let attributes: [AttributeSpec] = [
        .required(.program), .optional(.expr), .optional(.offsets, .eachAtLeast(-1)), .optional(.width, .atLeast(1)),
    ]
    /// One operation per instruction and element.
    public static func flops(_ q: CostQuery) -> Double {
        let instructions = q.attributes[.program].flatMap { try? ElementwiseProgram(inputs: q.inputs.count, encoded: $0) }?.code.count ?? 0
        return Double(instructions) * q.outputCount
    }
    /// Element k of an input of the result's type gives element k of the result.
    public static let inPlaceOperands = InPlaceOperands.all
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        for i in q.inputs.indices { try q.requireFloat(i) }
        guard let encoded = q.attributes[.program] else { throw ShapeError("missing attribute 'program'") }
        let program = try ElementwiseProgram(inputs: q.inputs.count, encoded: encoded)
        if let expr = q.attributes[.expr], expr != program.text {
            throw ShapeError("'expr' says \"\(expr)\" but the program is \"\(program.text)\"")
        }
        let offsets = q.attributes[.offsets] ?? Array(repeating: -1, count: q.inputs.count)
        guard offsets.count == q.inputs.count else { throw ShapeError("'offsets' needs one entry per input (\(q.inputs.count)), got \(offsets.count)") }
        var shape: Shape
        if offsets.contains(where: { $0 >= 0 }) {
            guard let width = q.attributes[.width], width > 0 else { throw ShapeError("windowed inputs need a positive 'width'") }
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
