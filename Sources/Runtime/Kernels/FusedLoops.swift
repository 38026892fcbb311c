#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GraphIR

// Loops of the fused ops: epilogues, the fused loss gradient and the elementwise interpreter.

/// `y[r, j] = act(y[r, j] + bias[j])`.
func addRowBias(_ y: UnsafeMutablePointer<Float>, rows: Int, columns n: Int, bias: UnsafePointer<Float>, relu: Bool) {
    for r in 0..<rows {
        let row = y + r * n
        if relu {
            for j in 0..<n { row[j] = max(row[j] + bias[j], 0) }
        } else {
            for j in 0..<n { row[j] += bias[j] }
        }
    }
}

func reluInPlace(_ y: UnsafeMutablePointer<Float>, _ count: Int) {
    for i in 0..<count { y[i] = max(y[i], 0) }
}

/// `(exp(logp) - onehot(t)) * dy / count` on counted rows, 0 on the others.
func logSoftmaxNllBackward(_ c: KernelContext) {
    let dy = c.inputs[0], lp = c.inputs[1], t = c.inputs[2], dx = c.output
    let classes = lp.shape.last ?? 1
    let ignore = ignoreIndex(c.attributes)
    var count = 0
    for i in 0..<t.count where targetClass(t.i64[i], classes: classes, ignore: ignore) != nil { count += 1 }
    let scale = count > 0 ? dy.f32[0] / Float(count) : 0
    for i in 0..<t.count {
        let row = dx.f32 + i * classes, logp = lp.f32 + i * classes
        guard let k = targetClass(t.i64[i], classes: classes, ignore: ignore) else { fill(row, classes, 0); continue }
        for j in 0..<classes { row[j] = fastExp(logp[j]) * scale }
        row[k] -= scale
    }
}

/// Elements per block: every register of the program is one block long, so a block's
/// working set stays in L1 while the instructions run over it one loop each.
let elementwiseBlock = 256

/// Runs a `fused_elementwise` program block by block: rows of the output's last axis (when
/// inputs are read through windows) cut into blocks. Full-size inputs are read in place;
/// single-value inputs are spread over a block once. Rows, or the blocks of a single row,
/// are split over the pool; each chunk has its own registers in the workspace.
func runElementwiseProgram(_ c: KernelContext) {
    guard let encoded = c.attributes.ints("program"), encoded.count % 3 == 0 else { return }
    let inputs = c.inputs.count
    let count = c.output.count
    let offsets = c.attributes.ints("offsets") ?? []
    let windowed = offsets.count == inputs && offsets.contains { $0 >= 0 }
    // Without windows the whole tensor is one row.
    let width = windowed ? max(c.output.shape.last ?? 1, 1) : max(count, 1)
    let rows = count / width
    let registers = (inputs + encoded.count / 3) * elementwiseBlock
    if rows > 1 {
        let grain = max(1, elementwiseGrain / width)
        let scratch = c.workspace.floats(registers * c.pool.chunks(rows, grain: grain))
        c.pool.parallelFor(rows, grain: grain) { chunk, rows in
            runElementwiseProgram(c, encoded, offsets: windowed ? offsets : nil, width: width, rows: rows, columns: 0..<width,
                                  scratch: scratch + chunk * registers)
        }
    } else if rows == 1 {
        let blocks = (width + elementwiseBlock - 1) / elementwiseBlock
        let grain = max(1, elementwiseGrain / elementwiseBlock)
        let scratch = c.workspace.floats(registers * c.pool.chunks(blocks, grain: grain))
        c.pool.parallelFor(blocks, grain: grain) { chunk, blocks in
            let columns = (blocks.lowerBound * elementwiseBlock)..<min(blocks.upperBound * elementwiseBlock, width)
            runElementwiseProgram(c, encoded, offsets: windowed ? offsets : nil, width: width, rows: 0..<1, columns: columns,
                                  scratch: scratch + chunk * registers)
        }
    }
}

/// The program over `rows` x `columns` of the output, with `scratch` holding one block per
/// input and per instruction.
private func runElementwiseProgram(_ c: KernelContext, _ encoded: [Int], offsets: [Int]?, width: Int, rows: Range<Int>,
                                   columns: Range<Int>, scratch: UnsafeMutablePointer<Float>) {
    let inputs = c.inputs.count, steps = encoded.count / 3
    let count = c.output.count
    withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>.self, capacity: inputs + steps) { regs in
        guard let base = regs.baseAddress else { return }
        for i in 0..<inputs where !(offsets.map { $0[i] >= 0 } ?? false) && c.inputs[i].count != count {
            fill(scratch + i * elementwiseBlock, elementwiseBlock, c.inputs[i].count > 0 ? c.inputs[i].f32[0] : 0)
        }
        for row in rows {
            var column = columns.lowerBound
            while column < columns.upperBound {
                let n = min(elementwiseBlock, columns.upperBound - column)
                let start = row * width + column
                for i in 0..<inputs {
                    let x = c.inputs[i]
                    if let offsets, offsets[i] >= 0 {
                        base[i] = x.f32 + row * (x.shape.last ?? 0) + offsets[i] + column
                    } else {
                        base[i] = x.count == count ? x.f32 + start : scratch + i * elementwiseBlock
                    }
                }
                for s in 0..<steps {
                    // The last instruction writes straight into the output.
                    let dst = s == steps - 1 ? c.output.f32 + start : scratch + (inputs + s) * elementwiseBlock
                    base[inputs + s] = dst
                    let code = encoded[3 * s], ra = encoded[3 * s + 1], rb = encoded[3 * s + 2]
                    guard let op = ElementwiseOpcode(rawValue: code), ra >= 0, ra < inputs + s else { return }
                    let a = UnsafePointer(base[ra])
                    if op.takesConstant {
                        let k = Float(bitPattern: UInt32(truncatingIfNeeded: rb))
                        switch op {
                        case .scale: for j in 0..<n { dst[j] = a[j] * k }
                        case .maxConstant: for j in 0..<n { dst[j] = max(a[j], k) }
                        default: for j in 0..<n { dst[j] = min(a[j], k) }
                        }
                        continue
                    }
                    if op.isUnary {
                        switch op {
                        case .relu: for j in 0..<n { dst[j] = max(a[j], 0) }
                        case .sigmoid: for j in 0..<n { dst[j] = fastSigmoid(a[j]) }
                        case .tanh: for j in 0..<n { dst[j] = fastTanh(a[j]) }
                        case .exp: for j in 0..<n { dst[j] = fastExp(a[j]) }
                        case .log: for j in 0..<n { dst[j] = logf(a[j]) }
                        default: for j in 0..<n { dst[j] = -a[j] }
                        }
                        continue
                    }
                    guard rb >= 0, rb < inputs + s else { return }
                    let b = UnsafePointer(base[rb])
                    switch op {
                    case .add: for j in 0..<n { dst[j] = a[j] + b[j] }
                    case .sub: for j in 0..<n { dst[j] = a[j] - b[j] }
                    case .mul: for j in 0..<n { dst[j] = a[j] * b[j] }
                    case .div: for j in 0..<n { dst[j] = a[j] / b[j] }
                    default: for j in 0..<n { dst[j] = b[j] > 0 ? a[j] : 0 }
                    }
                }
                column += n
            }
        }
    }
}
