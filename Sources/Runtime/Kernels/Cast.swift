import GraphIR

// CPU kernel of the op declared in GraphIR/Ops/Cast.swift.

extension CastOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let x = c.inputs[0], y = c.output, n = y.count
        switch (x.dtype, y.dtype) {
        case (.f32, .i64):
            let from = x.f32, to = y.i64
            for i in 0..<n { to[i] = HostTensor.saturatingInt(from[i]) }
        case (.i64, .f32):
            let from = x.i64, to = y.f32
            for i in 0..<n { to[i] = Float(from[i]) }
        default:
            // Same type: a copy, unless the planner gave the result the input's buffer.
            if x.data != y.data { y.data.copyMemory(from: x.data, byteCount: n * y.dtype.byteSize) }
        }
    }
}
