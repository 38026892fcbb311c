import GraphIR
/// `lstm_cell`: per row, gates [4H] and c [H] in, [h | c' | i | f | g | o | tanh c'] out,
/// with the same activation functions as the unfused sigmoid and tanh kernels. The gate
/// blocks of a row are in the order of the gates' pre-activations, so each step is a plain
/// loop from one or two arrays into one (loops that vectorise; one loop doing all of it
/// with seven outputs does not).
func lstmCellForward(gates: TensorView, c: TensorView, into out: TensorView) {
    guard let h = c.shape.last, h > 0 else { return }
    let rows = c.count / h
    for r in 0..<rows {
        let z = UnsafePointer(gates.f32 + r * 4 * h), cp = UnsafePointer(c.f32 + r * h), row = out.f32 + r * 7 * h
        let hOut = row, cOut = row + h, i = row + 2 * h, f = row + 3 * h, g = row + 4 * h, o = row + 5 * h, t = row + 6 * h
        // i and f: sigmoid over the first 2H pre-activations.
        for j in 0..<(2 * h) { i[j] = fastSigmoid(z[j]) }
        let zg = z + 2 * h, zo = z + 3 * h
        for j in 0..<h { g[j] = fastTanh(zg[j]) }
        for j in 0..<h { o[j] = fastSigmoid(zo[j]) }
        for j in 0..<h { cOut[j] = f[j] * cp[j] + i[j] * g[j] }
        for j in 0..<h { t[j] = fastTanh(cOut[j]) }
        for j in 0..<h { hOut[j] = o[j] * t[j] }
    }
}
