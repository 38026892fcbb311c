// Source ops: values that come from outside the computation.

extension OpDef {
    /// A graph input, fed by the caller. `{name}`; its type is its declaration.
    public static let input = OpDef("input", arity: .exactly(0), fusion: .source,
        shape: { _ in throw ShapeError("an input's type is declared, not inferred") })

    /// A trainable weight. `{name, init, ...}`: the initialiser and its arguments
    /// (`uniform` with `bound`, `normal` with `std`, `zeros`, `ones`).
    public static let param = OpDef("param", arity: .exactly(0), fusion: .source,
        shape: { _ in throw ShapeError("a parameter's type is declared, not inferred") })

    /// A scalar f32 constant `{value}` (broadcasts against anything).
    public static let constant = OpDef("constant", arity: .exactly(0), fusion: .source,
        shape: { q in
            guard q.attributes.float("value") != nil else { throw ShapeError("missing attribute 'value'") }
            return .f32([])
        })

    /// Inverted-dropout mask shaped like its input: each element is 0 with probability `p`,
    /// else 1/(1-p). A value of its own, so dropout's gradient is a plain multiply.
    /// In evaluation the runtime writes ones.
    public static let dropoutMask = OpDef("dropout_mask", arity: .exactly(1), fusion: .source, isRandom: true,
        shape: { q in
            guard let p = q.attributes.float("p"), p >= 0, p < 1 else { throw ShapeError("dropout probability 'p' must be in [0, 1)") }
            return .f32(q.input(0).shape)
        })
}
