import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/AllReduce.swift. The runtime knows no
// network: the kernels hand buckets to the installed `GradientCommunicator` (the Distributed
// module installs one over MPI when the program runs under mpirun). With none installed the
// process is the whole job: the all-reduce of one contribution is that contribution.

/// Sums gradient buckets over the processes of a data-parallel job.
public protocol GradientCommunicator: AnyObject {
    /// What this process's gradients are multiplied by before the sum: its share of the
    /// global batch (examples here / examples in the global batch), so the sum is the
    /// gradient of the global batch's mean loss.
    var share: Float { get }
    /// Starts summing `count` floats at `data` over every process, in place, without
    /// waiting. Buckets are started in the same order on every process.
    func start(bucket: Int, data: UnsafeMutablePointer<Float>, count: Int)
    /// Returns when the bucket started last under this number has been summed.
    func wait(bucket: Int)
}

/// Where the all-reduce kernels find the communicator (nil: a single process).
public enum GradientExchange {
    nonisolated(unsafe) public static var communicator: GradientCommunicator?
}

extension AllReduceStartOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let out = c.output.f32
        let share = GradientExchange.communicator?.share ?? 1
        var offset = 0
        for g in c.inputs {
            let n = g.count, src = g.f32
            if share == 1 { (out + offset).update(from: src, count: n) } else { for i in 0..<n { out[offset + i] = src[i] * share } }
            offset += n
        }
        GradientExchange.communicator?.start(bucket: c.attributes[.bucket] ?? 0, data: out, count: offset)
    }
}

extension AllReduceWaitOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        GradientExchange.communicator?.wait(bucket: c.attributes[.bucket] ?? 0)
        if c.output.data != c.inputs[0].data { c.output.f32.update(from: c.inputs[0].f32, count: c.output.count) }
    }
}

extension BucketSliceOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        c.output.f32.update(from: c.inputs[0].f32 + (c.attributes[.start] ?? 0), count: c.output.count)
    }
}
