// What gradient rules in `Ops/` share: emitting through the context's builder, undoing
// broadcasting, and per-input construction that skips inputs needing no gradient.

extension GradientContext {
    public func input(_ i: Int) -> Value { node.inputs[i] }
    public var attributes: Attributes { node.attributes }

    /// Whether input `i` needs a gradient (a rule returns nil for the others).
    public func needs(_ i: Int) -> Bool { i < needed.count && needed[i] }

    @discardableResult
    public func emit(_ op: OpDef, _ inputs: [Value], _ attributes: Attributes = Attributes()) throws -> Value {
        try builder.emit(op, inputs, attributes)
    }

    public func constant(_ v: Double) throws -> Value { try builder.scalar(v) }

    /// `g`, shaped like a broadcasting op's result, summed back to `operand`'s shape.
    public func unbroadcast(_ g: Value, to operand: Value) throws -> Value {
        type(g).shape == type(operand).shape ? g : try emit(.reduceLike, [g, operand])
    }

    /// One gradient per input, built only for the inputs that need one.
    public func perInput(_ make: (Int) throws -> Value?) rethrows -> [Value?] {
        try node.inputs.indices.map { needs($0) ? try make($0) : nil }
    }
}

extension GradientContext {
    /// The axes an `{axes}` reduction of input 0 reduces, normalised and deduplicated.
    public func reducedAxes() -> Set<Int> {
        let rank = type(input(0)).rank
        return Set((attributes[.axes] ?? []).map { $0 < 0 ? $0 + rank : $0 }.filter { $0 >= 0 && $0 < rank })
    }

    /// The gradient of a reduction of input 0 stretched back over that input. Without
    /// keepdims the reduced axes are first put back as 1s, unless they all lead (numpy
    /// broadcasting aligns shapes from the right, so leading axes need no placeholder).
    public func expandReduced() throws -> Value {
        let x = input(0), xs = type(x).shape
        let axes = reducedAxes()
        var g = gradient
        let keep = attributes[.keepdims] ?? false
        if !keep && axes != Set(0..<axes.count) {
            let dims = xs.dims.indices.map { axes.contains($0) ? Dim.known(1) : xs.dims[$0] }
            g = try emit(.reshape, [g], ["shape": .shape(Shape(dims))])
        }
        return type(g).shape == xs ? g : try emit(.broadcastLike, [g, x])
    }
}
