import CConvKernels
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
        gc_exp_scaled(logp, row, classes, scale)   // fastExp(logp[j]) * scale, 16 lanes wide where the CPU has them
        row[k] -= scale
    }
}

/// One instruction of a decoded program: its op's kernels and operand registers (`b` is 0,
/// an input, for unary ops).
struct ElementwiseStep {
    let op: ElementwiseKernelOp.Type
    let a: Int, b: Int
    let constants: ScalarConstants
}

/// Elements per block: every register of the program is one block long, so a block's
/// working set stays in L1 while the instructions run over it one loop each.
let elementwiseBlock = 256

/// Runs a `fused_elementwise` program block by block: rows of the output's last axis (when
/// inputs are read through windows) cut into blocks. Full-size inputs are read in place;
/// single-value inputs are spread over a block once. Rows, or the blocks of a single row,
/// are split over the pool; each chunk has its own registers in the workspace.
func runElementwiseProgram(_ c: KernelContext) {
    // The verifier has checked the program; each instruction runs through its op's block kernel.
    guard let encoded = c.attributes[.program] else { return }
    withUnsafeTemporaryAllocation(of: ElementwiseStep.self, capacity: encoded.count / 3) { buffer in
        guard let first = buffer.baseAddress else { return }
        var count = 0
        ElementwiseProgram.forEachInstruction(in: encoded) { ins in
            guard count < buffer.count, let op = CPUKernels.elementwise(opcode: ins.opcode) else { return }
            (first + count).initialize(to: ElementwiseStep(op: op, a: ins.a, b: ins.b, constants: ins.constants))
            count += 1
        }
        defer { first.deinitialize(count: count) }
        runElementwiseProgram(c, UnsafeBufferPointer(start: first, count: count))
    }
}

/// Splits the program's work (decoded into `steps`) over rows or blocks of the output.
private func runElementwiseProgram(_ c: KernelContext, _ steps: UnsafeBufferPointer<ElementwiseStep>) {
    let inputs = c.inputs.count
    let count = c.output.count
    let offsets = c.attributes[.offsets] ?? []
    let windowed = offsets.count == inputs && offsets.contains { $0 >= 0 }
    // Without windows the whole tensor is one row.
    let width = windowed ? max(c.output.shape.last ?? 1, 1) : max(count, 1)
    let rows = count / width
    let registers = (inputs + steps.count) * elementwiseBlock
    if rows > 1 {
        let grain = max(1, c.pool.memoryBoundGrain / width)
        let scratch = c.workspace.floats(registers * c.pool.chunks(rows, grain: grain))
        c.pool.parallelFor(rows, grain: grain) { chunk, rows in
            runElementwiseProgram(c, steps, offsets: windowed ? offsets : nil, width: width, rows: rows, columns: 0..<width,
                                  scratch: scratch + chunk * registers)
        }
    } else if rows == 1 {
        let blocks = (width + elementwiseBlock - 1) / elementwiseBlock
        let grain = max(1, c.pool.memoryBoundGrain / elementwiseBlock)
        let scratch = c.workspace.floats(registers * c.pool.chunks(blocks, grain: grain))
        c.pool.parallelFor(blocks, grain: grain) { chunk, blocks in
            let columns = (blocks.lowerBound * elementwiseBlock)..<min(blocks.upperBound * elementwiseBlock, width)
            runElementwiseProgram(c, steps, offsets: windowed ? offsets : nil, width: width, rows: 0..<1, columns: columns,
                                  scratch: scratch + chunk * registers)
        }
    }
}

/// The program over `rows` x `columns` of the output, with `scratch` holding one block per
/// input and per instruction.
private func runElementwiseProgram(_ c: KernelContext, _ program: UnsafeBufferPointer<ElementwiseStep>, offsets: [Int]?, width: Int, rows: Range<Int>,
                                   columns: Range<Int>, scratch: UnsafeMutablePointer<Float>) {
    let inputs = c.inputs.count, steps = program.count
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
                    let step = program[s]
                    step.op.block(n, UnsafePointer(base[step.a]), UnsafePointer(base[step.b]), step.constants, into: dst)
                }
                column += n
            }
        }
    }
}
