// Inputs taken reduced: the caller feeds the declared (larger) tensor, the graph holds only
// its mean or sum over some axes (the `reduced-inputs` pass makes them).

extension AttributeKey where Value == Shape {
    /// The shape the caller feeds an input taken reduced (its type is the reduced shape).
    public static let fed = AttributeKey("fed")
}
extension AttributeKey where Value == String {
    /// How an input taken reduced is reduced: "mean" or "sum".
    public static let feedReduce = AttributeKey("reduce")
}

/// How an input is taken reduced: the caller feeds `fed`; the graph's value is its `mean` (or
/// sum) over `axes` (sorted, non-negative, never axis 0: each item of a batch reduces on its
/// own), with the reduced axes kept as 1s when `keepdims`.
public struct FeedReduction: Equatable, Sendable {
    public var fed: TensorType
    public var mean: Bool
    public var axes: [Int]
    public var keepdims: Bool

    public init(fed: TensorType, mean: Bool, axes: [Int], keepdims: Bool = false) {
        self.fed = fed; self.mean = mean; self.axes = axes; self.keepdims = keepdims
    }

    /// The attributes an input node carries for it (besides its name).
    public var attributes: Attributes {
        var a = Attributes()
        a[.fed] = fed.shape
        a[.feedReduce] = mean ? "mean" : "sum"
        a[.axes] = axes
        if keepdims { a[.keepdims] = true }
        return a
    }

    /// The type the graph holds: `fed` reduced, as the mean or sum op's shape rule gives it.
    public func reducedType() throws -> TensorType {
        var a = Attributes()
        a[.axes] = axes
        if keepdims { a[.keepdims] = true }
        return try MeanOp.shape(ShapeQuery(inputs: [fed], attributes: a))
    }

    /// The reduction an input node declares, nil for an ordinary input. An error when the
    /// node has some of the attributes but not all, or they do not fit its type.
    public static func of(_ node: Node) throws -> FeedReduction? {
        guard node.op == .input else { return nil }
        let a = node.attributes
        let given = [a[.fed] != nil, a[.feedReduce] != nil, a[.axes] != nil, a[.keepdims] != nil]
        guard given.contains(true) else { return nil }
        guard let fed = a[.fed], let how = a[.feedReduce], let axes = a[.axes] else {
            throw ShapeError("an input taken reduced needs 'fed', 'reduce' and 'axes' together")
        }
        // `shape[...]` reads -1 (a reshape's inferred axis); a fed size is a size.
        guard fed.dims.allSatisfy({ ($0.value ?? 0) >= 0 }) else { throw ShapeError("an input taken reduced needs a fed shape of sizes, got \(fed)") }
        guard node.type.dtype == .f32 else { throw ShapeError("an input taken reduced must be f32, not \(node.type.dtype.rawValue)") }
        guard !axes.isEmpty, axes == axes.sorted(), Set(axes).count == axes.count, axes.allSatisfy({ $0 >= 1 && $0 < fed.rank }) else {
            throw ShapeError("an input taken reduced needs distinct increasing axes from 1 to \(fed.rank - 1) (axis 0 is the batch), got \(axes)")
        }
        let r = FeedReduction(fed: .f32(fed), mean: how == "mean", axes: axes, keepdims: a[.keepdims] ?? false)
        let reduced = try r.reducedType()
        guard reduced == node.type else {
            throw ShapeError("an input fed \(r.fed) and taken reduced over \(axes) is \(reduced), not \(node.type)")
        }
        return r
    }
}

extension Node {
    /// The type a caller feeds this input: its declared type, or for an input taken reduced
    /// the type before the reduction (`FeedReduction`).
    public var fedType: TensorType {
        guard op == .input, let fed = attributes[.fed] else { return type }
        return TensorType(type.dtype, fed)
    }
}
