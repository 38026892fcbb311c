/// `lstm_cell`: per row, gates [4H] and c [H] in, [h | c' | i | f | g | o | tanh c'] out,
/// with the same activation functions as the unfused sigmoid and tanh kernels.
func lstmCellForward(gates: TensorView, c: TensorView, into out: TensorView) {
    guard let h = c.shape.last, h > 0 else { return }
    let rows = c.count / h
    let z = gates.f32, state = c.f32, y = out.f32
    for r in 0..<rows {
        let g = z + r * 4 * h, cp = state + r * h, o = y + r * 7 * h
        for j in 0..<h {
            let i = fastSigmoid(g[j]), f = fastSigmoid(g[h + j]), gg = fastTanh(g[2 * h + j]), og = fastSigmoid(g[3 * h + j])
            let c2 = f * cp[j] + i * gg
            let t = fastTanh(c2)
            o[j] = og * t
            o[h + j] = c2
            o[2 * h + j] = i
            o[3 * h + j] = f
            o[4 * h + j] = gg
            o[5 * h + j] = og
            o[6 * h + j] = t
        }
    }
}
