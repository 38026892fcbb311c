import GraphIR
// The one loop nest behind broadcasting, reductions to a broadcast shape and their undoing.
//
// Operand 0 is walked contiguously over `shape`; operands 1 and 2 carry their own element
// strides over the same axes (0 where they broadcast). Axes of size 1 are dropped and
// neighbouring axes merged when every operand is contiguous across them, so a same-shape
// op is a single row, a `[B,T,N] + [N]` bias add is B*T rows of N with the bias at stride
// 0 between rows, and a scalar operand has stride 0 everywhere. Index bookkeeping lives in a
// stack-allocated scratch buffer, so a call allocates nothing on the heap.

/// Strides for a tensor of `shape` read at every position of a right-aligned output of
/// rank `rank`: row-major strides, 0 on the axes where it has size 1 or does not exist.
@inline(__always)
func writeBroadcastStrides(of shape: [Int], rank: Int, into p: UnsafeMutablePointer<Int>) {
    let offset = rank - shape.count
    var s = 1
    var i = rank - 1
    while i >= 0 {
        if i < offset { p[i] = 0 } else {
            let d = shape[i - offset]
            p[i] = d == 1 ? 0 : s
            s *= d
        }
        i -= 1
    }
}

/// Strides into a reduced tensor for every position of `shape`: 0 on the reduced axes
/// (`isReduced(axis)`), row-major strides of the kept axes elsewhere.
@inline(__always)
func writeReducedStrides(of shape: [Int], isReduced: (Int) -> Bool, into p: UnsafeMutablePointer<Int>) {
    var s = 1
    var i = shape.count - 1
    while i >= 0 {
        if isReduced(i) || shape[i] == 1 { p[i] = 0 } else { p[i] = s; s *= shape[i] }
        i -= 1
    }
}

/// Calls `row(o0, o1, o2, n, s1, s2)` once per innermost row of `shape`: elements
/// `o0 ..< o0+n` of operand 0 pair with `o1 + j*s1` and `o2 + j*s2` of the others.
/// `strides(p1, p2)` fills operand 1's and 2's strides over `shape` (rank entries each).
@inline(__always)
func forEachStridedRow(
    _ shape: [Int],
    strides: (UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>) -> Void,
    _ row: (_ o0: Int, _ o1: Int, _ o2: Int, _ n: Int, _ s1: Int, _ s2: Int) -> Void
) {
    let rank = shape.count
    for d in shape where d == 0 { return }
    if rank == 0 { row(0, 0, 0, 1, 0, 0); return }
    withUnsafeTemporaryAllocation(of: Int.self, capacity: 7 * rank) { buf in
        guard let base = buf.baseAddress else { return }
        let in1 = base, in2 = base + rank
        let dims = base + 2 * rank, st0 = base + 3 * rank, st1 = base + 4 * rank, st2 = base + 5 * rank
        let counter = base + 6 * rank
        for i in 0..<rank { in1[i] = 0; in2[i] = 0 }
        strides(in1, in2)

        // Coalesce from the innermost axis outwards; entry 0 is the innermost.
        var m = 0
        var s0 = 1
        var i = rank - 1
        while i >= 0 {
            let d = shape[i]
            if d != 1 {
                if m > 0 && st0[m - 1] * dims[m - 1] == s0 && st1[m - 1] * dims[m - 1] == in1[i]
                    && st2[m - 1] * dims[m - 1] == in2[i] {
                    dims[m - 1] *= d
                } else {
                    dims[m] = d; st0[m] = s0; st1[m] = in1[i]; st2[m] = in2[i]
                    m += 1
                }
            }
            s0 *= d
            i -= 1
        }
        if m == 0 { row(0, 0, 0, 1, 0, 0); return }

        let n = dims[0], s1 = st1[0], s2 = st2[0]
        var rows = 1
        if m > 1 { for j in 1..<m { rows *= dims[j]; counter[j] = 0 } }
        var o0 = 0, o1 = 0, o2 = 0
        for _ in 0..<rows {
            row(o0, o1, o2, n, s1, s2)
            var j = 1
            while j < m {
                counter[j] += 1
                o0 += st0[j]; o1 += st1[j]; o2 += st2[j]
                if counter[j] < dims[j] { break }
                o0 -= st0[j] * dims[j]; o1 -= st1[j] * dims[j]; o2 -= st2[j] * dims[j]
                counter[j] = 0
                j += 1
            }
        }
    }
}

/// A tensor seen as [outer, n, inner] around one axis: softmax, argmax, concatenation and
/// slicing all walk it this way.
struct AxisSplit {
    let outer: Int
    let n: Int
    let inner: Int

    init(_ shape: [Int], axis: Int) {
        var o = 1, i = 1
        for (k, d) in shape.enumerated() {
            if k < axis { o *= d } else if k > axis { i *= d }
        }
        outer = o; inner = i
        n = axis >= 0 && axis < shape.count ? shape[axis] : 1
    }
}

/// A possibly negative axis attribute made absolute; the shape rule has checked the range.
@inline(__always)
func normalizedAxis(_ a: Int?, rank: Int) -> Int {
    let a = a ?? 0
    return a < 0 ? a + rank : a
}
