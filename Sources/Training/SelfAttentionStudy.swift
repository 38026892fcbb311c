import Datasets
import Foundation
import GraphIR
import Reports
import Runtime

/// Q1's self-attention claims shown on a model of two heads (graphs/q1_attention.swiftgraph:
/// input `X` [L, n], parameters `head{1,2}.w_{q,k}` [n, d], outputs `P1`, `P2`, `A1`, `A2`),
/// run through `ModelRun` exactly as `graphc --run` runs it:
/// - with seeded, unrelated heads the probabilities differ;
/// - with W_Q(2) = W_Q(1) B and W_K(2) = W_K(1) B⁻ᵀ for an invertible B they are the same, since
///   A(2) = W_Q(1) B B⁻¹ W_K(1)ᵀ / sqrt(d) = A(1);
/// - A(h) = W_Q(h) W_K(h)ᵀ / sqrt(d) is n x n but has at most d non-zero singular values.
public enum SelfAttentionStudy {
    public struct Result: Codable {
        public var model: String
        public var seed: UInt64
        public var threads: Int
        public var blas_core: String
        public var L: Int
        public var n: Int
        public var d: Int
        /// B, d x d, row by row, and its singular values (all non-zero: B is invertible).
        public var b: [[Double]]
        public var b_singular_values: [Double]
        /// max |P1 - P2| over all entries, with unrelated (seeded) heads and with related ones.
        public var unrelated_max_difference: Double
        public var related_max_difference: Double
        /// Singular values of A1 and A2, largest first, from the related run's outputs.
        public var singular_values: [String: [Double]]
        /// Singular values above 1e-5 times the largest.
        public var ranks: [String: Int]
        /// The first row of P1 and P2 in the related run: a probability distribution over the L tokens.
        public var p1_first_row: [Double]
        public var p2_first_row: [Double]
        /// Files written (relative to the output folder): the related heads' weights, X and the outputs.
        public var weights_file: String
        public var inputs_file: String
        public var outputs_file: String
        public var seconds: Double
    }

    public static let rankTolerance = 1e-5

    /// Runs the study on `file` with the model's seeded weights for head 1 (`seed`), B = I plus
    /// seeded noise, and seeded standard normal X (`seed + 1`). With `out`, writes
    /// `heads.safetensors`, `X.npy`, `outputs.npz` and `study.json` there, so that
    /// `graphc FILE --run --weights OUT/heads.safetensors --inputs X=OUT/X.npy` repeats the related run.
    public static func run(file: String, seed: UInt64 = 7, threads: Int? = nil, out: String? = nil) throws -> Result {
        let start = Date()
        let model = try ModelRun(file: file, seed: seed, threads: threads)
        let (L, n, d) = try sizes(model)
        let random = RandomSource(seed: seed &+ 1)
        let x = HostTensor(shape: [L, n], floats: (0..<L * n).map { _ in random.nextNormal() })

        let unrelated = try outputs(model.run(["X": x]))
        let wq1 = SmallMatrix(rows: n, columns: d, floats: try weight(model, "head1.w_q"))
        let wk1 = SmallMatrix(rows: n, columns: d, floats: try weight(model, "head1.w_k"))
        let b = invertibleMatrix(d, seed: seed &+ 2)
        guard let bInverse = b.inverse else { throw RuntimeError("the seeded B is singular (seed \(seed))") }
        model.parameters.set("head2.w_q", HostTensor(shape: [n, d], floats: (wq1 * b).floats))
        model.parameters.set("head2.w_k", HostTensor(shape: [n, d], floats: (wk1 * bInverse.transposed).floats))
        let relatedOutputs = try model.run(["X": x])
        let related = try outputs(relatedOutputs)

        var singular: [String: [Double]] = [:], ranks: [String: Int] = [:]
        for (name, a) in [("A1", related.a1), ("A2", related.a2)] {
            let m = SmallMatrix(rows: n, columns: n, floats: a)
            singular[name] = m.singularValues
            ranks[name] = m.rank(relativeTolerance: rankTolerance)
        }
        var result = Result(model: file, seed: seed, threads: model.threads,
                            blas_core: BLASInfo.coreName, L: L, n: n, d: d,
                            b: (0..<d).map { r in (0..<d).map { b[r, $0] } }, b_singular_values: b.singularValues,
                            unrelated_max_difference: maxDifference(unrelated.p1, unrelated.p2),
                            related_max_difference: maxDifference(related.p1, related.p2),
                            singular_values: singular, ranks: ranks,
                            p1_first_row: related.p1.prefix(L).map(Double.init), p2_first_row: related.p2.prefix(L).map(Double.init),
                            weights_file: "heads.safetensors", inputs_file: "X.npy", outputs_file: "outputs.npz", seconds: 0)
        // The folder is written whole (ResultsFolder): swapped in once every file is there.
        let results = try out.map { try ResultsFolder($0) }
        defer { results?.discard() }
        if let results {
            let folder = results.staging as NSString
            try model.parameters.save(to: folder.appendingPathComponent(result.weights_file),
                                      metadata: ["model": file, "made_by": "graphc --attention-study: head2 = head1 with B"])
            let raw = x.floats.withUnsafeBytes { Data($0) }
            let xFile = folder.appendingPathComponent(result.inputs_file)
            do {
                try AtomicFile.write(try NPYWriter.encode(NPYArray(dtype: .f32, shape: [L, n], raw: raw, source: "X")), to: URL(fileURLWithPath: xFile))
            } catch {
                throw FileError(xFile, "cannot write: \(error.localizedDescription)")
            }
            try ModelRun.writeNPZ(relatedOutputs, to: folder.appendingPathComponent(result.outputs_file))
        }
        result.seconds = Date().timeIntervalSince(start)
        if let results {
            try JSONReport.write(result, to: results.file("study.json"))
            try results.commit()
        }
        return result
    }

    /// The model's L, n and d, from `X` [L, n] and `head1.w_q` [n, d]; a clear error for any
    /// other model.
    static func sizes(_ model: ModelRun) throws -> (L: Int, n: Int, d: Int) {
        let expected = "an input X [L, n], parameters head1.w_q, head1.w_k, head2.w_q, head2.w_k [n, d] and outputs P1, P2, A1, A2 (as graphs/q1_attention.swiftgraph)"
        guard let x = model.inputs.first(where: { $0.name == "X" }), x.type.rank == 2,
              let L = x.type.shape.dims[0].value, let n = x.type.shape.dims[1].value else {
            throw RuntimeError("\(model.file): the attention study needs \(expected)")
        }
        for name in ["head1.w_q", "head1.w_k", "head2.w_q", "head2.w_k"] {
            guard let w = model.parameters.get(name), w.shape.count == 2, w.shape[0] == n,
                  w.shape[1] == model.parameters.get("head1.w_q")?.shape.last else {
                throw RuntimeError("\(model.file): the attention study needs \(expected); '\(name)' is missing or not [n, d]")
            }
        }
        guard Set(["P1", "P2", "A1", "A2"]).isSubset(of: Set(model.outputNames)) else {
            throw RuntimeError("\(model.file): the attention study needs \(expected); its outputs are \(model.outputNames.joined(separator: ", "))")
        }
        return (L, n, model.parameters.get("head1.w_q")!.shape[1])
    }

    static func weight(_ model: ModelRun, _ name: String) throws -> [Float] {
        guard let w = model.parameters.get(name) else { throw RuntimeError("\(model.file): no parameter '\(name)'") }
        return w.floats
    }

    static func outputs(_ list: [ModelRun.Output]) throws -> (p1: [Float], p2: [Float], a1: [Float], a2: [Float]) {
        func get(_ name: String) throws -> [Float] {
            guard let o = list.first(where: { $0.name == name }) else { throw RuntimeError("the model gave no output '\(name)'") }
            return o.value.floats
        }
        return (try get("P1"), try get("P2"), try get("A1"), try get("A2"))
    }

    /// B = I + uniform noise in [-0.25, 0.25): diagonally dominant for the small d here, so
    /// comfortably invertible; seeded so the study repeats.
    static func invertibleMatrix(_ d: Int, seed: UInt64) -> SmallMatrix {
        let random = RandomSource(seed: seed)
        var b = SmallMatrix.identity(d)
        for i in 0..<d * d { b.values[i] += 0.5 * (Double(random.nextFloat()) - 0.5) }
        return b
    }

    static func maxDifference(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).map { Double(abs($0 - $1)) }.max() ?? 0
    }

    /// What `graphc --attention-study` prints.
    public static func text(_ r: Result, out: String?) -> String {
        func list(_ v: [Double]) -> String { v.map { String(format: "%.3g", $0) }.joined(separator: ", ") }
        var s = "Q1 self-attention: \(r.model) (L = \(r.L) tokens, n = \(r.n), d = \(r.d)), weights seeded (seed \(r.seed)), X standard normal (seed \(r.seed &+ 1))\n"
        s += "A(h) = W_Q(h) W_K(h)^T / sqrt(d) is \(r.n) x \(r.n) but a product through d = \(r.d) columns, so rank(A(h)) <= \(r.d):\n"
        for name in ["A1", "A2"] {
            s += "  singular values of \(name): \(list(r.singular_values[name] ?? []))  -> rank \(r.ranks[name] ?? 0) (values above \(rankTolerance) x the largest)\n"
        }
        s += "Unrelated heads (both seeded): max |P1 - P2| = \(String(format: "%.3g", r.unrelated_max_difference))\n"
        s += "B (invertible, singular values \(list(r.b_singular_values))):\n"
        for row in r.b { s += "  " + row.map { String(format: "%8.4f", $0) }.joined(separator: " ") + "\n" }
        s += "Related heads, W_Q(2) = W_Q(1) B and W_K(2) = W_K(1) B^-T: max |P1 - P2| = \(String(format: "%.3g", r.related_max_difference)) (float32 rounding)\n"
        s += "  P1 row 1: \(list(r.p1_first_row))\n  P2 row 1: \(list(r.p2_first_row))\n"
        if let out {
            s += "wrote \(out)/\(r.weights_file), \(out)/\(r.inputs_file), \(out)/\(r.outputs_file), \(out)/study.json\n"
            s += "the related run again: graphc \(r.model) --run --weights \(out)/\(r.weights_file) --inputs X=\(out)/\(r.inputs_file)\n"
        }
        return s
    }
}
