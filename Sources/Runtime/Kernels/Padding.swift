import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/Padding.swift.

extension PadOp: KernelOp {
    public static func kernel(_ c: KernelContext) { padCopy(c, backward: false) }
}

extension PadGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) { padCopy(c, backward: true) }
}

/// Walks the padded tensor (y forward, dy backward) row by row of its last axis. Each axis's
/// output positions map to input positions through a table (-1: the constant fill), so a row
/// is one table walk. Forward copies x into y; backward adds dy into dx.
private func padCopy(_ c: KernelContext, backward: Bool) {
    let x = backward ? c.output : c.inputs[0]
    let y = backward ? c.inputs[0] : c.output
    let rank = x.shape.count
    let pads = c.attributes[.pads] ?? Array(repeating: 0, count: 2 * rank)
    let mode = PadMode(rawValue: c.attributes[.padMode] ?? "constant") ?? .constant
    let fillValue = Float(c.attributes[.padValue] ?? 0)
    if backward { fill(x.f32, x.count, 0) }
    guard y.count > 0 else { return }
    guard rank > 0 else {
        if backward { x.f32[0] += y.f32[0] } else { y.f32[0] = x.f32[0] }
        return
    }
    // Per axis: output position -> input position (-1: fill), times the input's stride.
    let xStrides = rowMajor(x.shape)
    let tables: [[Int]] = (0..<rank).map { axis in
        (0..<y.shape[axis]).map { o in
            mode.source(o, size: x.shape[axis], begin: pads[axis]).map { $0 * xStrides[axis] } ?? -1
        }
    }
    let width = y.shape[rank - 1], last = tables[rank - 1]
    var index = [Int](repeating: 0, count: rank)   // the row's position; index[rank-1] stays 0
    for row in 0..<(y.count / width) {
        // Input offset of the row's outer position, or nil when it lies in the fill.
        var base: Int? = 0
        for axis in 0..<(rank - 1) {
            let t = tables[axis][index[axis]]
            if t < 0 { base = nil; break }
            base! += t
        }
        let out = y.f32 + row * width
        if let base {
            for j in 0..<width {
                let t = last[j]
                if backward {
                    if t >= 0 { x.f32[base + t] += out[j] }
                } else {
                    out[j] = t >= 0 ? x.f32[base + t] : fillValue
                }
            }
        } else if !backward {
            fill(out, width, fillValue)
        }
        var axis = rank - 2
        while axis >= 0 {
            index[axis] += 1
            if index[axis] < y.shape[axis] { break }
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
