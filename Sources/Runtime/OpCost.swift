import GraphIR

/// Floating-point operations of the contractions (multiply and add counted as two), from the
/// shapes of a run; nil for ops whose cost is memory traffic rather than arithmetic.
public enum OpCost {
    public static func flops(_ node: Node, inputShapes: [[Int]], outputShape: [Int]) -> Double? {
        let out = Double(outputShape.reduce(1, *))
        switch node.op.name {
        case "matmul", "fused_matmul":
            guard let a = inputShapes.first, a.count >= 2 else { return nil }
            let k = (node.attributes.bool("transpose_a") ?? false) ? a[a.count - 2] : a[a.count - 1]
            return 2 * out * Double(k)
        case "contract_rows":
            // Every row of a against the same row of b: K is the number of rows.
            guard let a = inputShapes.first, let m = a.last, m > 0 else { return nil }
            return 2 * out * Double(a.reduce(1, *) / m)
        case "conv2d", "fused_conv2d":
            // Each output element is a dot product over C*kh*kw inputs.
            guard inputShapes.count > 1, inputShapes[1].count == 4 else { return nil }
            let w = inputShapes[1]
            return 2 * out * Double(w[1] * w[2] * w[3])
        case "conv2d_grad_input":
            // dy [N,O,OH,OW], w [O,C,kh,kw]: one product per dy element and weight.
            guard inputShapes.count > 1, inputShapes[1].count == 4 else { return nil }
            let dy = inputShapes[0], w = inputShapes[1]
            return 2 * Double(dy.reduce(1, *)) * Double(w[1] * w[2] * w[3])
        case "conv2d_grad_weight":
            guard let dy = inputShapes.first, dy.count == 4 else { return nil }
            return 2 * Double(dy.reduce(1, *)) * Double(outputShape.dropFirst().reduce(1, *))
        default:
            return nil
        }
    }
}
