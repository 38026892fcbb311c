import GraphIR
import Passes
import Runtime
import XCTest
import Foundation

/// A small forward graph under construction for a gradient check: parameters get random
/// values in a store as they are declared, inputs get random feeds, and the check compares
/// `Autodiff`'s gradients with central differences of a double-precision objective.
final class GradientCheckGraph {
    let builder: GraphBuilder
    /// The graph built so far.
    var graph: Graph { builder.finish() }
    let store = ParameterStore()
    var feeds: [String: HostTensor] = [:]
    /// Concrete sizes of the symbolic dimensions the feeds bind.
    let bindings: [String: Int]
    let random: RandomSource
    /// The objective in Double, computed on the host from the forward graph's outputs. It
    /// must equal (up to float rounding) the graph's loss.
    var objective: (([String: HostTensor]) -> Double)?

    init(_ name: String, seed: UInt64 = 1, bindings: [String: Int] = [:]) {
        builder = GraphBuilder(name: name)
        random = RandomSource(seed: seed)
        self.bindings = bindings
    }

    func concrete(_ shape: Shape) -> [Int] {
        shape.dims.map { d in d.value ?? bindings[d.description] ?? 1 }
    }

    /// Uniform values in [lo, hi).
    func uniform(_ n: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] {
        (0..<n).map { _ in lo + (hi - lo) * random.nextFloat() }
    }

    /// Random signs and magnitudes in [minMagnitude, 1]: nothing near a kink at 0.
    func awayFromZero(_ n: Int, minMagnitude: Float = 0.2) -> [Float] {
        (0..<n).map { _ in
            let m = minMagnitude + (1 - minMagnitude) * random.nextFloat()
            return random.nextFloat() < 0.5 ? -m : m
        }
    }

    /// Distinct values spaced `gap` apart in random order: no ties for max pooling.
    func distinct(_ n: Int, gap: Float = 0.05) -> [Float] {
        var v = (0..<n).map { Float($0 - n / 2) * gap }
        for i in stride(from: n - 1, to: 0, by: -1) { v.swapAt(i, random.nextInt(below: i + 1)) }
        return v
    }

    @discardableResult
    func param(_ name: String, _ shape: [Int], _ values: [Float]? = nil, attributes: Attributes = [:]) -> Value {
        var attrs: Attributes = ["init": .string("zeros")]
        for (k, v) in attributes { attrs[k] = v }
        let v = builder.parameter(name, .f32(Shape(known: shape)), initializer: attrs)
        store.set(name, HostTensor(shape: shape, floats: values ?? uniform(shape.reduce(1, *))))
        return v
    }

    func input(_ name: String, _ type: TensorType, _ values: [Float]? = nil) -> Value {
        let v = builder.input(name, type)
        let shape = concrete(type.shape)
        feeds[name] = HostTensor(shape: shape, floats: values ?? uniform(shape.reduce(1, *)))
        return v
    }

    func ids(_ name: String, _ shape: Shape, _ values: [Int64]) -> Value {
        let v = builder.input(name, .i64(shape))
        feeds[name] = HostTensor(shape: concrete(shape), ints: values)
        return v
    }

    func emit(_ op: OpDef, _ inputs: [Value], _ attributes: Attributes = [:]) throws -> Value {
        try builder.emit(op, inputs, attributes)
    }

    /// ReLU and max-pool nodes: the places where the function has kinks.
    var kinks: [Value: OpDef] = [:]

    func relu(_ x: Value) throws -> Value {
        let r = try emit(.relu, [x])
        kinks[r] = .relu
        return r
    }

    /// Max pooling over non-overlapping k x k windows.
    func maxpool(_ x: Value, _ k: Int) throws -> Value {
        let p = try emit(.maxpool2d, [x], ["kernel": .ints([k, k]), "stride": .ints([k, k]), "padding": .ints([0, 0])])
        kinks[p] = .maxpool2d
        return p
    }

    /// loss = Σ y ⊙ R for a fixed random R, so every element of y matters with its own weight.
    /// The host objective sums the same products in Double from the output "y".
    func finishWithWeightedSum(_ y: Value) throws {
        let t = builder.type(of: y)
        let shape = concrete(t.shape)
        let r = input("R", t, uniform(shape.reduce(1, *), 0.5, 1.5).enumerated().map { $0.offset % 2 == 0 ? $0.element : -$0.element })
        let weights = feeds["R"]?.floats ?? []
        builder.outputs.append(("y", y))
        let all = Array(0..<t.rank)
        let product = try emit(.mul, [y, r])
        builder.loss = all.isEmpty ? product : try emit(.sum, [product], ["axes": .ints(all)])
        objective = { outs in
            let ys = outs["y"]?.floats ?? []
            var s = 0.0
            for (a, b) in zip(ys, weights) { s += Double(a) * Double(b) }
            return s
        }
    }

    /// loss = nll_loss(log_softmax(logits), targets) over the last axis, the mean over targets
    /// that are not ignored. The host objective redoes the log-softmax and the mean in Double
    /// from the output "logits", so only the network itself rounds in float.
    func finishWithLogSoftmaxNLL(_ logits: Value, targets: [Int64], targetShape: Shape, ignoreIndex: Int64? = nil) throws {
        let logp = try emit(.logSoftmax, [logits], ["axis": .int(-1)])
        let t = ids("targets", targetShape, targets)
        var attrs: Attributes = [:]
        if let ig = ignoreIndex { attrs["ignore_index"] = .int(Int(ig)) }
        builder.outputs.append(("logits", logits))
        builder.loss = try emit(.nllLoss, [logp, t], attrs)
        objective = { outs in
            let z = (outs["logits"]?.floats ?? []).map { Double($0) }
            let classes = outs["logits"]?.shape.last ?? 1
            var s = 0.0, n = 0
            for (row, target) in targets.enumerated() where target != ignoreIndex {
                let r = z[(row * classes)..<((row + 1) * classes)]
                let m = r.max() ?? 0
                let logSum = m + Foundation.log(r.reduce(0) { $0 + Foundation.exp($1 - m) })
                s -= z[row * classes + Int(target)] - logSum; n += 1
            }
            return n == 0 ? 0 : s / Double(n)
        }
    }

    /// loss = nll_loss(logp, targets) with the mean over targets that are not ignored; the
    /// host objective redoes that mean in Double from the output "logp".
    func finishWithNLL(_ logp: Value, targets: [Int64], targetShape: Shape, ignoreIndex: Int64? = nil) throws {
        let t = ids("targets", targetShape, targets)
        var attrs: Attributes = [:]
        if let ig = ignoreIndex { attrs["ignore_index"] = .int(Int(ig)) }
        builder.outputs.append(("logp", logp))
        builder.loss = try emit(.nllLoss, [logp, t], attrs)
        objective = { outs in
            let lp = outs["logp"]?.floats ?? []
            let classes = outs["logp"]?.shape.last ?? 1
            var s = 0.0, n = 0
            for (row, target) in targets.enumerated() where target != ignoreIndex {
                s -= Double(lp[row * classes + Int(target)]); n += 1
            }
            return n == 0 ? 0 : s / Double(n)
        }
    }
}

extension GradientCheckGraph {
    /// The forward graph with its kinks frozen at the point `base` last ran: each ReLU
    /// becomes a product with the mask of its input's positive entries, and each max-pool
    /// input is offset by -1e4 everywhere but at the winners of its windows. At that point it
    /// computes the same values, and around it the same function without the kinks, so a
    /// central difference of it is the derivative there, whatever eps crosses.
    func frozen(at base: Executor) throws -> (graph: Graph, feeds: [String: HostTensor]) {
        let graph = self.graph
        let b = GraphBuilder(name: graph.name + ".frozen")
        var feeds = self.feeds
        var map: [Value] = []
        for (i, n) in graph.nodes.enumerated() {
            let ins = n.inputs.map { map[$0.id] }
            if let kink = kinks[Value(i)], let x = n.inputs.first, let seen = base.value(x) {
                let name = "frozen\(i)"
                let fixed = b.input(name, graph.type(of: x))
                if kink == .relu {
                    feeds[name] = HostTensor(shape: seen.shape, floats: seen.floats.map { $0 > 0 ? 1 : 0 })
                    map.append(try b.emit(.mul, [ins[0], fixed]))
                } else {
                    feeds[name] = HostTensor(shape: seen.shape, floats: poolWinnerOffsets(seen, k: n.attributes.ints("kernel")?.first ?? 1))
                    map.append(try b.emit(.maxpool2d, [try b.emit(.add, [ins[0], fixed])], n.attributes))
                }
            } else if n.op == .input || n.op == .param {
                map.append(b.emitSource(n.op, type: n.type, n.attributes))
            } else {
                map.append(try b.emit(n.op, ins, n.attributes))
            }
        }
        b.outputs = graph.outputs.map { ($0.name, map[$0.value.id]) }
        b.loss = graph.loss.map { map[$0.id] }
        let f = b.finish()
        return (f, feeds)
    }

    /// 0 at each k x k window's largest element (the first of equals, as the kernel picks), -1e4 elsewhere.
    func poolWinnerOffsets(_ t: HostTensor, k: Int) -> [Float] {
        let v = t.floats
        var offsets = [Float](repeating: -1e4, count: v.count)
        guard t.shape.count == 4, k > 0 else { return offsets }
        let (planes, h, w) = (t.shape[0] * t.shape[1], t.shape[2], t.shape[3])
        for plane in 0..<planes {
            for oi in 0..<(h / k) {
                for oj in 0..<(w / k) {
                    var best = -1
                    for i in (oi * k)..<(oi * k + k) {
                        for j in (oj * k)..<(oj * k + k) {
                            let at = plane * h * w + i * w + j
                            if best < 0 || v[at] > v[best] { best = at }
                        }
                    }
                    offsets[best] = 0
                }
            }
        }
        return offsets
    }
}

/// One parameter's comparison: the worst element, by how much it exceeds the tolerance, and
/// the error of the whole vector.
struct GradientComparison: CustomStringConvertible {
    var name: String
    var checked = 0
    var worstIndex = -1
    var worstAnalytic = 0.0
    var worstNumeric = 0.0
    var worstExcess = -Double.infinity
    var relativeNormError = 0.0
    var passes = true

    var description: String {
        "\(name): \(checked) checked, worst [\(worstIndex)] analytic \(worstAnalytic) vs numeric \(worstNumeric), "
            + "relative norm error \(relativeNormError)"
    }

    /// Each element must agree within `rtol * |numeric| + atol * max|numeric| + noise`, and
    /// the vectors within `rtol` in norm. A gradient that is zero in exact arithmetic (a bias
    /// before a softmax) has no relative error to speak of: its size is bounded by the noise.
    init(_ name: String, indices: [Int], analytic: [Float], numeric: [Double], rtol: Double, atol: Double, noise: Double) {
        self.name = name
        checked = indices.count
        let scale = numeric.map(abs).max() ?? 0
        var diffNorm = 0.0, numNorm = 0.0
        for (k, i) in indices.enumerated() {
            let a = Double(analytic[i]), n = numeric[k]
            let excess = abs(a - n) - (rtol * abs(n) + atol * scale + noise)
            if excess > worstExcess { worstExcess = excess; worstIndex = i; worstAnalytic = a; worstNumeric = n }
            diffNorm += (a - n) * (a - n); numNorm += n * n
        }
        relativeNormError = diffNorm.squareRoot() / max(numNorm.squareRoot(), 1e-30)
        let noiseNorm = noise * Double(indices.count).squareRoot()
        let vectorOK = numNorm.squareRoot() > 10 * noiseNorm ? relativeNormError < rtol : diffNorm.squareRoot() < 2 * noiseNorm
        passes = worstExcess <= 0 && vectorOK
    }
}

extension XCTestCase {
    /// Differentiates `c.graph`, runs it once for the analytic gradients, then for each
    /// trainable parameter (all elements, or a random sample of `maxPerParameter`) perturbs it
    /// by ±eps and differences the host objective of the graph with its kinks frozen (see
    /// `frozen(at:)`), and compares (see `GradientComparison`). Returns the analytic gradients.
    @discardableResult
    func checkGradients(_ c: GradientCheckGraph, eps: Double = 1e-2, rtol: Double = 1e-2, atol: Double = 1e-3,
                        maxPerParameter: Int = 64, expect names: Set<String>? = nil,
                        file: StaticString = #filePath, line: UInt = #line) throws -> [String: [Float]] {
        let objective = try XCTUnwrap(c.objective, "finish the graph first", file: file, line: line)
        let differentiated = try Autodiff.differentiate(c.graph)
        XCTAssertNoThrow(try Pass.verify.run(differentiated), file: file, line: line)
        let backward = try Executor(graph: differentiated, options: ExecutionOptions())
        let results = try backward.run(feeds: c.feeds, parameters: c.store)
        var analytic: [String: [Float]] = [:]
        for (name, _) in differentiated.gradientOutputs {
            if let parameter = GradientOutput.parameter(of: name) { analytic[parameter] = results[name]?.floats }
        }
        if let names { XCTAssertEqual(Set(analytic.keys), names, "gradient outputs", file: file, line: line) }
        XCTAssertFalse(analytic.isEmpty, "no gradients", file: file, line: line)

        // The host objective must be the graph's loss, and the frozen graph the same function
        // at this point, or the comparison proves nothing.
        let original = try Executor(graph: c.graph, options: ExecutionOptions())
        let base = try original.run(feeds: c.feeds, parameters: c.store)
        let lossValue = Double(try XCTUnwrap(base["loss"]?.scalar, file: file, line: line))
        let hostValue = objective(base)
        XCTAssertEqual(lossValue, hostValue, accuracy: 1e-4 * max(1, abs(hostValue)), "objective vs loss", file: file, line: line)
        let (frozenGraph, frozenFeeds) = try c.frozen(at: original)
        let forward = try Executor(graph: frozenGraph, options: ExecutionOptions())
        XCTAssertEqual(objective(try forward.run(feeds: frozenFeeds, parameters: c.store)), hostValue,
                       accuracy: 1e-6 * max(1, abs(hostValue)), "frozen graph vs graph", file: file, line: line)
        // What float rounding of the objective alone can make of a difference quotient.
        let noise = 1e-7 * max(1, abs(hostValue)) / eps

        for (name, grad) in analytic.sorted(by: { $0.key < $1.key }) {
            let values = try XCTUnwrap(c.store.get(name)?.floats, file: file, line: line)
            XCTAssertEqual(grad.count, values.count, name, file: file, line: line)
            var indices = Array(values.indices)
            if indices.count > maxPerParameter {
                for i in stride(from: indices.count - 1, to: 0, by: -1) { indices.swapAt(i, c.random.nextInt(below: i + 1)) }
                indices = Array(indices.prefix(maxPerParameter))
            }
            var numeric: [Double] = []
            for i in indices {
                let original = values[i]
                let up = Float(Double(original) + eps), down = Float(Double(original) - eps)
                c.store.update(name) { $0[i] = up }
                let fUp = objective(try forward.run(feeds: frozenFeeds, parameters: c.store))
                c.store.update(name) { $0[i] = down }
                let fDown = objective(try forward.run(feeds: frozenFeeds, parameters: c.store))
                c.store.update(name) { $0[i] = original }
                numeric.append((fUp - fDown) / (Double(up) - Double(down)))
            }
            let comparison = GradientComparison(name, indices: indices, analytic: grad, numeric: numeric, rtol: rtol, atol: atol, noise: noise)
            XCTAssertTrue(comparison.passes, "\(comparison)", file: file, line: line)
            if ProcessInfo.processInfo.environment["GRADCHECK_VERBOSE"] != nil { print("GRADCHECK \(c.graph.name) \(comparison)") }
        }
        return analytic
    }
}
