import GraphIR
@testable import Runtime
import XCTest

/// Thin products (a decoder step's 8 rows by a weight) split into column blocks for
/// OpenBLAS's small-matrix kernels must equal the plain product, through matmul and
/// fused_matmul, for the decoders' shapes.
final class KernelThinProductTests: XCTestCase {
    let data = TestData(seed: 29)

    func reference(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int, tb: Bool) -> [Double] {
        var out = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k { s += Double(a[i * k + p]) * Double(tb ? b[j * k + p] : b[p * n + j]) }
                out[i * n + j] = s
            }
        }
        return out
    }

    func testDecoderShapesMatchThePlainProduct() throws {
        // (rows, k, n, transposed weight): h·W_hhᵀ, dGates·W_hh, dGates·W_ih (attention),
        // context·W_ihᵀ, fc, a width that does not divide into blocks.
        let shapes = [(8, 256, 1024, true), (8, 1024, 256, false), (8, 1024, 612, false), (8, 512, 1024, true),
                      (8, 256, 190, true), (5, 300, 777, true), (16, 700, 333, false)]
        for (m, k, n, tb) in shapes {
            let a = data.floats([m, k]), b = data.floats(tb ? [n, k] : [k, n])
            let expected = reference(a.floats, b.floats, m: m, k: k, n: n, tb: tb)
            let y = try runOp(.matmul, [a, b], ["transpose_b": .bool(tb)])
            assertClose(y, expected, shape: [m, n], tol: 1e-4, "matmul \(m)x\(k)x\(n) tb \(tb)")
            let bias = data.floats([n])
            let fused = try runOp(.fusedMatmul, [a, b, bias], ["transpose_b": .bool(tb), "activation": .string("relu")])
            let withBias = expected.indices.map { max(0, expected[$0] + Double(bias.floats[$0 % n])) }
            assertClose(fused, withBias, shape: [m, n], tol: 1e-4, "fused_matmul \(m)x\(k)x\(n) tb \(tb)")
        }
    }

    /// Leading axes count as rows: [2, 4, K] by a 2-D weight is one 8-row product.
    func testLeadingAxesAreRows() throws {
        let a = data.floats([2, 4, 256]), b = data.floats([1024, 256])
        let y = try runOp(.matmul, [a, b], ["transpose_b": .bool(true)])
        assertClose(y, reference(a.floats, b.floats, m: 8, k: 256, n: 1024, tb: true), shape: [2, 4, 1024], tol: 1e-4, "batched")
    }

    /// The split is taken exactly when the core has the small-matrix kernels and the whole
    /// product is beyond them; small or tall products are left to one sgemm.
    func testSplitOnlyWhereItHelps() {
        let a = [Float](repeating: 1, count: 64 * 1024), b = [Float](repeating: 1, count: 1024 * 1024)
        var y = [Float](repeating: 0, count: 64 * 1024)
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in y.withUnsafeMutableBufferPointer { py in
            guard let a = pa.baseAddress, let b = pb.baseAddress, let y = py.baseAddress else { return }
            XCTAssertEqual(thinMatmul(pool: .serial, a: a, b: b, y: y, m: 8, n: 1024, k: 256, transB: true), blasHasSmallMatrixKernels)
            XCTAssertFalse(thinMatmul(pool: .serial, a: a, b: b, y: y, m: 8, n: 100, k: 100, transB: false), "small enough already")
            XCTAssertFalse(thinMatmul(pool: .serial, a: a, b: b, y: y, m: 64, n: 1024, k: 256, transB: true), "not thin")
        } } }
        if blasHasSmallMatrixKernels { XCTAssertEqual(y[0], 256) }
    }

    /// The column blocks shared over two threads give exactly the serial result.
    func testBlocksOverThePoolEqualSerial() {
        let m = 8, k = 256, n = 1000
        let a = data.floats([m, k]).floats, b = data.floats([n, k]).floats
        var serial = [Float](repeating: 0, count: m * n), pooled = serial
        let pool = WorkerPool(threads: 2)
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
            guard let a = pa.baseAddress, let b = pb.baseAddress else { return }
            serial.withUnsafeMutableBufferPointer { _ = thinMatmul(pool: .serial, a: a, b: b, y: $0.baseAddress!, m: m, n: n, k: k, transB: true) }
            pooled.withUnsafeMutableBufferPointer { _ = thinMatmul(pool: pool, a: a, b: b, y: $0.baseAddress!, m: m, n: n, k: k, transB: true) }
        } }
        XCTAssertEqual(serial, pooled)
        if blasHasSmallMatrixKernels { XCTAssertNotEqual(serial, [Float](repeating: 0, count: m * n)) }
    }
}
