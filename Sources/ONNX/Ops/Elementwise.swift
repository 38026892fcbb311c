import GraphIR
import Runtime

// Elementwise ONNX ops: unary maps, broadcasting arithmetic (folded when both operands are
// shape arithmetic known at import), activations graphc composes from its own ops.

extension ONNXOps {
    static let elementwise: [ONNXOpConverter] = [
        unary("Relu", .relu), unary("Sigmoid", .sigmoid), unary("Tanh", .tanh), unary("Exp", .exp),
        unary("Log", .log), unary("Neg", .neg), unary("Sqrt", .sqrt), unary("Abs", .abs), unary("Erf", .erf),
        binary("Add", .add), binary("Sub", .sub), binary("Mul", .mul), binary("Div", .div),
        sum, variadic("Max", .maximum), variadic("Min", .minimum), identity, leakyRelu, hardSigmoid, pow, clip, softmax("Softmax", .softmax), softmax("LogSoftmax", .logSoftmax), dropout,
    ]

    /// `y = op(x)` on f32.
    static func unary(_ type: String, _ op: OpDef) -> ONNXOpConverter {
        ONNXOpConverter(type) { c in [.graph(try c.emit(op, [try c.tensor(0)]))] }
    }

    /// Numpy-broadcasting arithmetic on f32 or i64 tensors (ONNX's integer types are imported
    /// as i64); int shape arithmetic known at import is computed here by the op's own integer
    /// function, as its kernel would.
    static func binary(_ type: String, _ op: OpDef) -> ONNXOpConverter {
        ONNXOpConverter(type) { c in
            if let folded = try foldStatic(c, op) { return [folded] }
            return [.graph(try c.emit(op, [try c.tensor(0), try c.tensor(1)]))]
        }
    }

    /// Every input a static int vector (shape arithmetic): `op` folded over them, left to
    /// right, by its integer function (nil: some input is not static, or not foldable).
    static func foldStatic(_ c: ONNXNodeContext, _ op: OpDef) throws -> ONNXValue? {
        guard let f = op.scalarFunction, f.takesIntegers, var acc = try c.value(0).staticDims else { return nil }
        for i in 1..<max(1, c.inputCount) {
            guard let next = try c.value(i).staticDims,
                  let folded = foldInts(acc, next, { x, y in f.integers(Int64(x), Int64(y)).map { Int(truncatingIfNeeded: $0) } }),
                  let dims = folded.staticDims else { return nil }
            acc = dims
        }
        return .ints(acc.dims, scalar: acc.scalar)
    }

    /// Known int vectors combined element by element with broadcasting (nil: not foldable).
    static func foldInts(_ a: (dims: [Dim], scalar: Bool), _ b: (dims: [Dim], scalar: Bool), _ f: (Int, Int) -> Int?) -> ONNXValue? {
        let n = max(a.dims.count, b.dims.count)
        guard a.dims.count == n || a.dims.count == 1, b.dims.count == n || b.dims.count == 1 else { return nil }
        var out: [Dim] = []
        for i in 0..<n {
            let x = a.dims[a.dims.count == 1 ? 0 : i], y = b.dims[b.dims.count == 1 ? 0 : i]
            guard let p = x.value, let q = y.value, let r = f(p, q) else { return nil }
            out.append(.known(r))
        }
        return .ints(out, scalar: a.scalar && b.scalar)
    }

    static let sum = variadic("Sum", .add)

    /// Sum, Max, Min: a broadcasting binary op folded over every input (at import, when every
    /// input is shape arithmetic).
    static func variadic(_ type: String, _ op: OpDef) -> ONNXOpConverter {
        ONNXOpConverter(type) { c in
            if let folded = try foldStatic(c, op) { return [folded] }
            var y = try c.tensor(0)
            for i in 1..<max(1, c.inputCount) { y = try c.emit(op, [y, try c.tensor(i)]) }
            return [.graph(y)]
        }
    }

    static let identity = ONNXOpConverter("Identity") { c in [try c.value(0)] }

    static let leakyRelu = ONNXOpConverter("LeakyRelu") { c in
        [.graph(try c.emit(.leakyRelu, [try c.tensor(0)], ["alpha": .float(c.float("alpha", default: 0.01))]))]
    }

    static let hardSigmoid = ONNXOpConverter("HardSigmoid") { c in
        let a: Attributes = ["alpha": .float(c.float("alpha", default: 0.2)), "beta": .float(c.float("beta", default: 0.5))]
        return [.graph(try c.emit(.hardSigmoid, [try c.tensor(0)], a))]
    }

    /// Pow: a float base with one exponent known at import is graphc's `pow {exponent}`;
    /// otherwise `power(x, y)`, broadcasting. The result has the base's type, as ONNX defines:
    /// an integer exponent of a float base is cast to f32; an integer base with a float
    /// exponent is raised in f32 and truncated back to i64.
    static let pow = ONNXOpConverter("Pow") { c in
        let base = try c.inputType(0)
        if base.dtype == .f32, let e = c.constant(1), e.count == 1, e.shape.count <= base.rank {
            let p = e.dtype == .f32 ? Double(e.floats[0]) : Double(e.ints[0])
            let x = try c.tensor(0)
            if p == 1 { return [.graph(x)] }
            if p == 2 { return [.graph(try c.emit(.mul, [x, x]))] }
            return [.graph(try c.emit(.pow, [x], ["exponent": .float(p)]))]
        }
        let x = try c.tensor(0), y = try c.tensor(1)
        switch (base.dtype, c.type(y).dtype) {
        case (.f32, .i64):
            return [.graph(try c.emit(.power, [x, try c.emit(.cast, [y], ["to": .string("f32")])]))]
        case (.i64, .f32):
            let p = try c.emit(.power, [try c.emit(.cast, [x], ["to": .string("f32")]), y])
            return [.graph(try c.emit(.cast, [p], ["to": .string("i64")]))]
        default:
            return [.graph(try c.emit(.power, [x, y]))]
        }
    }

    /// Clip: min(max(x, min), max) as numpy's clip, so a min above the max gives the max.
    /// Bounds are attributes before opset 11, optional inputs from 11 on. Float bounds known at
    /// import make one `clamp` (or `relu`); bounds given at run time, and integer tensors, make
    /// `maximum` then `minimum`, broadcasting (a missing bound is no bound).
    static let clip = ONNXOpConverter("Clip") { c in
        let x = try c.tensor(0)
        if c.opset < 11 { return [.graph(try clamp(c, x, lo: c.float("min"), hi: c.float("max")))] }
        var known: [Int: Double] = [:]
        for i in [1, 2] where c.has(i) {
            if let t = c.constant(i), t.dtype == .f32, t.count == 1, t.shape.count <= c.type(x).rank { known[i] = Double(t.floats[0]) }
        }
        let given = [1, 2].filter { c.has($0) }
        if c.type(x).dtype == .f32, given.allSatisfy({ known[$0] != nil }) {
            return [.graph(try clamp(c, x, lo: known[1], hi: known[2]))]
        }
        var y = x
        if c.has(1) { y = try c.emit(.maximum, [y, try c.tensor(1)]) }
        if c.has(2) { y = try c.emit(.minimum, [y, try c.tensor(2)]) }
        return [.graph(y)]
    }

    /// `clamp` of f32 `x` to float bounds (a missing one is the float range's end); a min
    /// above the max gives the max, as numpy's clip does.
    static func clamp(_ c: ONNXNodeContext, _ x: Value, lo: Double?, hi: Double?) throws -> Value {
        let top = hi ?? Double(Float.greatestFiniteMagnitude)
        let bottom = min(lo ?? -Double(Float.greatestFiniteMagnitude), top)
        if bottom == 0, top >= Double(Float.greatestFiniteMagnitude) { return try c.emit(.relu, [x]) }
        return try c.emit(.clamp, [x], ["min": .float(bottom), "max": .float(top)])
    }

    /// Softmax and LogSoftmax. Before opset 13 the input is read as a 2-D matrix
    /// [product of dims before axis, product from axis on] (default axis 1); from 13 on along
    /// one axis (default -1).
    static func softmax(_ type: String, _ op: OpDef) -> ONNXOpConverter {
        ONNXOpConverter(type) { c in
            let x = try c.tensor(0)
            let shape = c.type(x).shape
            let axis = try c.axis(c.int("axis", default: c.opset < 13 ? 1 : -1), rank: max(1, shape.rank))
            if c.opset >= 13 || axis == shape.rank - 1 {
                return [.graph(try c.emit(op, [x], ["axis": .int(axis)]))]
            }
            let tail = shape.dims[axis...]
            guard tail.allSatisfy({ $0.value != nil }) else { throw c.fail("needs known sizes from axis \(axis) on, the input is \(c.type(x))") }
            let width = tail.reduce(1) { $0 * ($1.value ?? 1) }
            let flat = try c.emit(.reshape, [x], ["shape": .shape(Shape(Array(shape.dims[..<axis]) + [.known(width)]))])
            let y = try c.emit(op, [flat], ["axis": .int(axis)])
            return [.graph(try c.emit(.reshape, [y], ["shape": .shape(shape)]))]
        }
    }

    /// Dropout. Imported for inference it is the identity, whatever its ratio and training_mode
    /// (inputs 1 and 2 from opset 12, read at run time or not at all), as graphc evaluates a
    /// model; imported for training it is graphc's own dropout, `x * dropout_mask(x)`, which
    /// draws its mask when graphc trains (a training_mode known at import to be false keeps the
    /// identity; one given at run time leaves the choice to graphc's training switch). The
    /// ratio then must be known at import. The optional mask output (bool, as i64 0/1) is all
    /// ones wherever the output is the identity; a drawn mask is not computed.
    static let dropout = ONNXOpConverter("Dropout") { c in
        var ratio: Double? = c.float("ratio", default: 0.5)
        var training = c.training
        if c.opset >= 12 {
            ratio = 0.5
            if c.has(1) { ratio = c.constant(1).flatMap { $0.count == 1 ? $0.floats.first.map { Double($0) } : nil } }
            if c.has(2), let t = c.constant(2) {
                guard t.count == 1, let mode = t.ints.first else { throw c.fail("training_mode (input 2) must be one value") }
                if mode == 0 { training = false }
            }
        }
        if let r = ratio { guard r >= 0, r < 1 else { throw c.fail("ratio \(r) is outside [0, 1)") } }
        let x = try c.value(0)
        if !training || ratio == 0 {
            guard c.node.output.count > 1, !c.node.output[1].isEmpty else { return [x] }
            let type = try c.inputType(0)
            guard let shape = type.shape.knownDims, let bytes = MemoryBudget.bytes(elements: shape, byteSize: 8) else {
                throw c.fail("its mask output needs a known shape, the input is \(type)")
            }
            try c.importer.account(bytes, for: "the mask of shape \(shape)", context: c)
            return [x, .constant(HostTensor(shape: shape, ints: [Int64](repeating: 1, count: shape.reduce(1, *))))]
        }
        guard let p = ratio else {
            throw c.fail("the ratio (input 1) must be known when the model is imported for training (graphc's dropout rate is fixed)")
        }
        let t = try c.tensor(0)
        return [.graph(try c.emit(.mul, [t, try c.emit(.dropoutMask, [t], ["p": .float(p)])]))]
    }
}
