import Foundation
import Frontend
import GraphIR
import Runtime
import XCTest

/// Q1's self-attention claims, shown numerically on graphs/q1_attention.swiftgraph:
/// P(h) = softmax(X A(h) Xᵀ) with A(h) = W_Q W_Kᵀ / sqrt(d) of rank <= d, and two heads with
/// W_Q(2) = W_Q(1) B, W_K(2) = W_K(1) B⁻ᵀ (B invertible) give the same probabilities.
final class SelfAttentionHeadsTests: XCTestCase {
    let n = 8, d = 3, L = 6

    func graphPath() -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("graphs/q1_attention.swiftgraph").path
    }

    /// Row-major [r, c] x [c, k].
    func matmul(_ a: [Float], _ b: [Float], _ r: Int, _ c: Int, _ k: Int) -> [Float] {
        var out = [Float](repeating: 0, count: r * k)
        for i in 0..<r { for j in 0..<k { var s: Double = 0; for t in 0..<c { s += Double(a[i * c + t]) * Double(b[t * k + j]) }; out[i * k + j] = Float(s) } }
        return out
    }

    /// Gauss-Jordan inverse of a small well-conditioned matrix, in Double.
    func inverse(_ m: [Float], _ size: Int) -> [Float] {
        var a = m.map(Double.init), inv = (0..<size * size).map { $0 / size == $0 % size ? 1.0 : 0.0 }
        for col in 0..<size {
            let pivot = (col..<size).max { abs(a[$0 * size + col]) < abs(a[$1 * size + col]) } ?? col
            for j in 0..<size { a.swapAt(col * size + j, pivot * size + j); inv.swapAt(col * size + j, pivot * size + j) }
            let p = a[col * size + col]
            for j in 0..<size { a[col * size + j] /= p; inv[col * size + j] /= p }
            for r in 0..<size where r != col {
                let f = a[r * size + col]
                for j in 0..<size { a[r * size + j] -= f * a[col * size + j]; inv[r * size + j] -= f * inv[col * size + j] }
            }
        }
        return inv.map(Float.init)
    }

    func transpose(_ m: [Float], _ r: Int, _ c: Int) -> [Float] { (0..<r * c).map { m[($0 % r) * c + $0 / r] } }

    /// Numerical rank by Gaussian elimination with partial pivoting.
    func rank(_ m: [Float], _ size: Int, tolerance: Double = 1e-4) -> Int {
        var a = m.map(Double.init), r = 0
        let scale = a.map(abs).max() ?? 1
        for col in 0..<size where r < size {
            guard let p = (r..<size).max(by: { abs(a[$0 * size + col]) < abs(a[$1 * size + col]) }),
                  abs(a[p * size + col]) > tolerance * scale else { continue }
            for j in 0..<size { a.swapAt(r * size + j, p * size + j) }
            for i in (r + 1)..<size {
                let f = a[i * size + col] / a[r * size + col]
                for j in 0..<size { a[i * size + j] -= f * a[r * size + j] }
            }
            r += 1
        }
        return r
    }

    func run(sameHeads: Bool) throws -> [String: HostTensor] {
        let g = try Frontend.lower(path: graphPath(), options: FrontendOptions(mode: .infer))
        let store = ParameterStore()
        try store.initialise(from: g, seed: 7)
        if sameHeads {
            let random = RandomSource(seed: 11)
            // B = I + noise: comfortably invertible.
            let b = (0..<d * d).map { ($0 / d == $0 % d ? 1 : 0) + 0.5 * (random.nextFloat() - 0.5) }
            let binvT = transpose(inverse(b, d), d, d)
            guard let wq = store.get("head1.w_q")?.floats, let wk = store.get("head1.w_k")?.floats else {
                throw XCTSkip("q1_attention has no head1 projections")
            }
            store.set("head2.w_q", HostTensor(shape: [n, d], floats: matmul(wq, b, n, d, d)))
            store.set("head2.w_k", HostTensor(shape: [n, d], floats: matmul(wk, binvT, n, d, d)))
        }
        let random = RandomSource(seed: 3)
        let x = (0..<L * n).map { _ in random.nextNormal() }
        return try Executor(graph: g, options: ExecutionOptions()).run(feeds: ["X": HostTensor(shape: [L, n], floats: x)], parameters: store)
    }

    func testHeadsRelatedByAnInvertibleMatrixGiveTheSameProbabilities() throws {
        let out = try run(sameHeads: true)
        let p1 = try XCTUnwrap(out["P1"]?.floats), p2 = try XCTUnwrap(out["P2"]?.floats)
        XCTAssertEqual(p1.count, L * L)
        for i in p1.indices { XCTAssertEqual(p1[i], p2[i], accuracy: 1e-5) }
        // Rows are probability distributions.
        for r in 0..<L { XCTAssertEqual(p1[(r * L)..<((r + 1) * L)].reduce(0, +), 1, accuracy: 1e-5) }
    }

    func testUnrelatedHeadsDifferAndEachAHasRankAtMostD() throws {
        let out = try run(sameHeads: false)
        let p1 = try XCTUnwrap(out["P1"]?.floats), p2 = try XCTUnwrap(out["P2"]?.floats)
        XCTAssertGreaterThan(zip(p1, p2).map { abs($0 - $1) }.max() ?? 0, 1e-3)
        for name in ["A1", "A2"] {
            let a = try XCTUnwrap(out[name])
            XCTAssertEqual(a.shape, [n, n])
            XCTAssertEqual(rank(a.floats, n), d, "\(name) is n x n = \(n) x \(n) but a product of n x d factors")
        }
    }
}
