import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/Padding.swift.

extension PadOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let value = c.attributes[.padValue] ?? 0
        if c.output.dtype == .i64 {
            // Rounded toward zero, saturating (an ONNX integer tensor's fill is an integer).
            let fill = value.isNaN ? 0 : Int64(max(-9.2e18, min(9.2e18, value)))
            padCopy(c, backward: false, Int64.self, fill: fill)
        } else {
            padCopy(c, backward: false, Float.self, fill: Float(value))
        }
    }
}

extension PadGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) { padCopy(c, backward: true, Float.self, fill: 0) }
}

/// Walks the padded tensor (y forward, dy backward) row by row of its last axis. Each axis's
/// output positions map to input positions through a table (-1: the constant fill), so a row
/// is one table walk. Forward copies x into y; backward adds dy into dx.
private func padCopy<T: Numeric>(_ c: KernelContext, backward: Bool, _: T.Type, fill fillValue: T) {
    let xView = backward ? c.output : c.inputs[0]
    let yView = backward ? c.inputs[0] : c.output
    let x = xView.data.assumingMemoryBound(to: T.self), y = yView.data.assumingMemoryBound(to: T.self)
    let rank = xView.shape.count
    let pads = c.attributes[.pads] ?? Array(repeating: 0, count: 2 * rank)
    let mode = PadMode(rawValue: c.attributes[.padMode] ?? "constant") ?? .constant
    if backward { x.update(repeating: 0, count: xView.count) }
    guard yView.count > 0 else { return }
    guard rank > 0 else {
        if backward { x[0] += y[0] } else { y[0] = x[0] }
        return
    }
    // Per axis: output position -> input position (-1: fill), times the input's stride.
    let xStrides = rowMajor(xView.shape)
    let tables: [[Int]] = (0..<rank).map { axis in
        (0..<yView.shape[axis]).map { o in
            mode.source(o, size: xView.shape[axis], begin: pads[axis]).map { $0 * xStrides[axis] } ?? -1
        }
    }
    let width = yView.shape[rank - 1], last = tables[rank - 1]
    var index = [Int](repeating: 0, count: rank)   // the row's position; index[rank-1] stays 0
    for row in 0..<(yView.count / width) {
        // Input offset of the row's outer position, or nil when it lies in the fill.
        var base: Int? = 0
        for axis in 0..<(rank - 1) {
            let t = tables[axis][index[axis]]
            if t < 0 { base = nil; break }
            base! += t
        }
        let out = y + row * width
        if let base {
            for j in 0..<width {
                let t = last[j]
                if backward {
                    if t >= 0 { x[base + t] += out[j] }
                } else {
                    out[j] = t >= 0 ? x[base + t] : fillValue
                }
            }
        } else if !backward {
            out.update(repeating: fillValue, count: width)
        }
        var axis = rank - 2
        while axis >= 0 {
            index[axis] += 1
            if index[axis] < yView.shape[axis] { break }
            index[axis] = 0
            axis -= 1
        }
    }
}

/// Row-major strides of a shape.
private func rowMajor(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var acc = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) { strides[i] = acc; acc *= shape[i] }
    return strides
}
