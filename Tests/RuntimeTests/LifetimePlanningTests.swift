import GraphIR
import Passes
@testable import Runtime
import XCTest

/// Lifetime-planned memory (`BufferPlan.lifetimes`: regions reused, elementwise ops in place,
/// reshapes of values read later sharing their region) computes the bits one buffer per value
/// computes, on graphs made to catch a write into a region another live value still reads:
/// views of views, in-place ops on a view or on its source, views read together, views that
/// are graph results, and the training graphs autodiff makes of them (reshape_like gradients
/// added in place), fused or not, and trained a few steps with the SGD step fused into the
/// weight gradients.
final class LifetimePlanningTests: XCTestCase {
    /// Runs `g` under both planners (the same feeds, weights and dropout seed) and compares
    /// every output's bits.
    func assertPlannersAgree(_ g: Graph, feeds: [String: HostTensor], store: ParameterStore, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) throws {
        let separate = try Executor(graph: g, options: ExecutionOptions(training: true, seed: 3)).run(feeds: feeds, parameters: store)
        let shared = try Executor(graph: g, options: ExecutionOptions(training: true, seed: 3), planner: BufferPlan.lifetimes)
            .run(feeds: feeds, parameters: store)
        XCTAssertEqual(Set(separate.keys), Set(shared.keys), what, file: file, line: line)
        for (name, t) in separate {
            guard let u = shared[name] else { continue }
            XCTAssertEqual(t.shape, u.shape, "\(what): \(name)", file: file, line: line)
            let (a, c) = (t.floats, u.floats)
            let differing = a.indices.filter { $0 >= c.count || a[$0].bitPattern != c[$0].bitPattern }
            XCTAssertTrue(differing.isEmpty, "\(what): \(name) differs at \(differing.count) elements, first [\(differing.first ?? 0)]",
                          file: file, line: line)
        }
    }

    /// Hand-made cases, each an in-place write the planner must not let through.
    func testViewsAndInPlaceWrites() throws {
        let cases = [
            // An in-place op on the view while the source is read later, and on the source
            // while the view is read later.
            """
            graph @g {
              %x = input() {name="x"} : f32[4,6]
              %a = tanh(%x) : f32[4,6]
              %v = reshape(%a) {shape=shape[24]} : f32[24]
              %n = neg(%v) : f32[24]
              %m = relu(%a) : f32[4,6]
              %r = reshape_like(%n, %m) : f32[4,6]
              %s = add(%r, %m) : f32[4,6]
              %t = sigmoid(%v) : f32[24]
              %y = reshape(%t) {shape=shape[4,6]} : f32[4,6]
              %u = add(%s, %y) : f32[4,6]
              output "u" = %u
            }
            """,
            // A chain of views, the middle one read last, the source written over in place
            // only after it.
            """
            graph @g {
              %x = input() {name="x"} : f32[4,6]
              %a = tanh(%x) : f32[4,6]
              %b = reshape(%a) {shape=shape[24]} : f32[24]
              %c = reshape(%b) {shape=shape[2,12]} : f32[2,12]
              %d = reshape(%c) {shape=shape[6,4]} : f32[6,4]
              %e = exp(%d) : f32[6,4]
              %f = reshape_like(%e, %a) : f32[4,6]
              %g = mul(%f, %a) : f32[4,6]
              %h = reshape_like(%b, %a) : f32[4,6]
              %i = sub(%g, %h) : f32[4,6]
              %j = neg(%c) : f32[2,12]
              %k = reshape_like(%j, %a) : f32[4,6]
              %l = add(%i, %k) : f32[4,6]
              output "l" = %l
            }
            """,
            // Two views read by one elementwise node (neither may be written over), and a
            // view that is a result while its source is overwritten in place afterwards.
            """
            graph @g {
              %x = input() {name="x"} : f32[4,6]
              %a = sigmoid(%x) : f32[4,6]
              %p = reshape(%a) {shape=shape[24]} : f32[24]
              %q = reshape(%a) {shape=shape[24]} : f32[24]
              %s = mul(%p, %q) : f32[24]
              %o = reshape(%a) {shape=shape[6,4]} : f32[6,4]
              %n = neg(%a) : f32[4,6]
              %t = reshape_like(%s, %n) : f32[4,6]
              %w = add(%t, %n) : f32[4,6]
              output "w" = %w
              output "o" = %o
            }
            """,
        ]
        for (k, text) in cases.enumerated() {
            let g = try IRParser.parse(text, file: "case\(k).gir")
            try assertPlannersAgree(g, feeds: randomFeeds(g, size: 1, seed: UInt64(k)), store: ParameterStore(), "case \(k)")
        }
    }

    /// Values computed from a parameter once, before the runs (their scratch planned by
    /// lifetimes whatever the executor's planner): a view read after its source's last direct
    /// read (which must not be written over in place), in-place ops on views, the kept results
    /// read by the run. The bits of computing them in every run with one buffer per value.
    func testParameterDerivedViews() throws {
        let g = try IRParser.parse("""
        graph @g {
          %x = input() {name="x"} : f32[4,6]
          %w = param() {name="w", init="uniform", bound=0.9} : f32[4,6]
          %t = tanh(%w) : f32[4,6]
          %r = reshape(%t) {shape=shape[24]} : f32[24]
          %q = sigmoid(%t) : f32[4,6]
          %v = reshape(%q) {shape=shape[6,4]} : f32[6,4]
          %u = relu(%v) : f32[6,4]
          %n = neg(%r) : f32[24]
          %e = exp(%n) : f32[24]
          %k = reshape(%e) {shape=shape[4,6]} : f32[4,6]
          %z = reshape(%u) {shape=shape[4,6]} : f32[4,6]
          %a = add(%x, %k) : f32[4,6]
          %b = mul(%a, %z) : f32[4,6]
          %c = add(%b, %x) : f32[4,6]
          output "c" = %c
        }
        """, file: "derived.gir")
        let store = ParameterStore()
        try store.initialise(from: g, seed: 7)
        let f = randomFeeds(g, size: 1, seed: 8)
        let every = try Executor(graph: g, options: ExecutionOptions(computesParameterValuesOnce: false)).run(feeds: f, parameters: store)
        let once = try Executor(graph: g, options: ExecutionOptions(computesParameterValuesOnce: true), planner: BufferPlan.lifetimes)
        XCTAssertEqual(try once.run(feeds: f, parameters: store)["c"]?.floats.map(\.bitPattern), every["c"]?.floats.map(\.bitPattern))
    }

    /// Random graphs of rows of 12 values seen as [B, 12], [B, 3, 4] and [B, 2, 6]: reshapes
    /// and reshape_likes of any earlier value, unary and binary elementwise ops, products, some
    /// values results; forward, training (autodiff), fused training.
    func testRandomGraphsOfViews() throws {
        let shapes: [[Int]] = [[12], [3, 4], [2, 6]]
        var shared = 0
        for seed in 0..<24 {
            let random = RandomSource(seed: UInt64(100 + seed))
            let b = GraphBuilder(name: "views\(seed)")
            let B = Dim.symbol("B")
            func type(_ s: Int) -> Shape { Shape([B] + shapes[s].map { Dim.known($0) }) }
            let x = b.input("x", .f32(type(0)))
            let y = b.input("y", .i64(Shape([B])))
            var values: [(value: Value, shape: Int)] = [(x, 0)]
            var outputs: [(String, Value)] = []
            // Mostly recent values, sometimes any earlier one (so that it is read later).
            func pick() -> (value: Value, shape: Int) {
                random.nextInt(below: 3) == 0 ? values[random.nextInt(below: values.count)] : values[max(0, values.count - 1 - random.nextInt(below: 3))]
            }
            func reshaped(_ v: (value: Value, shape: Int), to s: Int) throws -> Value {
                v.shape == s ? v.value : try b.emit(.reshape, [v.value], ["shape": .shape(type(s))])
            }
            for layer in 0..<(6 + random.nextInt(below: 8)) {
                let v = pick()
                switch random.nextInt(below: 6) {
                case 0:
                    let s = random.nextInt(below: shapes.count)
                    values.append((try b.emit(.reshape, [v.value], ["shape": .shape(type(s))]), s))
                case 1:
                    let like = pick()
                    values.append((try b.emit(.reshapeLike, [v.value, like.value]), like.shape))
                case 2:
                    let unary: [OpDef] = [.neg, .tanh, .sigmoid, .relu]
                    values.append((try b.emit(unary[random.nextInt(below: unary.count)], [v.value]), v.shape))
                case 3:
                    let u = pick()
                    let binary: [OpDef] = [.add, .sub, .mul]
                    let other = u.shape == v.shape ? u.value : try b.emit(.reshapeLike, [u.value, v.value])
                    values.append((try b.emit(binary[random.nextInt(below: binary.count)], [v.value, other]), v.shape))
                case 4:
                    let w = b.parameter("w\(layer)", .f32([12, 12]), initializer: ["init": .string("uniform"), "bound": .float(0.5)])
                    let mm = try b.emit(.matmul, [try reshaped(v, to: 0), w], ["transpose_b": .bool(true)])
                    values.append((try b.emit(.tanh, [mm]), 0))
                default:
                    let s = random.nextInt(below: shapes.count)
                    let view = try b.emit(.reshape, [v.value], ["shape": .shape(type(s))])
                    outputs.append(("o\(layer)", view))
                    values.append((view, s))
                }
            }
            let w = b.parameter("out", .f32([3, 12]), initializer: ["init": .string("uniform"), "bound": .float(0.5)])
            let last = try reshaped(values[values.count - 1], to: 0)
            let logp = try b.emit(.logSoftmax, [try b.emit(.matmul, [last, w], ["transpose_b": .bool(true)])], ["axis": .int(-1)])
            b.outputs = outputs + [("logp", logp)]
            b.loss = try b.emit(.nllLoss, [logp, y])
            let g = b.finish()
            let store = ParameterStore()
            try store.initialise(from: g, seed: UInt64(seed))
            let f = randomFeeds(g, size: 3, seed: UInt64(seed))
            let training = try Pipeline(["autodiff", "cse", "dce"]).run(g, .checked)
            let fused = try Pipeline(["autodiff", "cse", "fusion", "dce"]).run(g, .checked)
            for (what, graph) in [("forward", g), ("training", training), ("fused training", fused)] {
                try assertPlannersAgree(graph, feeds: f, store: store, "random graph \(seed) \(what)")
                let sizes = MemoryPlanner.byteSizes(graph, bindings: ["B": 3])
                let plan = MemoryPlanner.plan(graph, byteSizes: sizes)
                shared += graph.nodes.indices.filter { i in
                    [.reshape, .reshapeLike].contains(graph.nodes[i].op) && plan.inPlaceOf[i] != nil
                        && graph.nodes[(i + 1)...].contains { $0.inputs.contains(graph.nodes[i].inputs[0]) }
                }.count
            }
        }
        XCTAssertGreaterThan(shared, 40, "reshapes of values read later share their region")
    }

    /// A few SGD steps (fused into the weight gradients where they can be) on a random graph of
    /// views: the same weights under both planners.
    func testTrainingStepsAgree() throws {
        let g = try IRParser.parse("""
        graph @g {
          %x = input() {name="x"} : f32[B,12]
          %y = input() {name="y"} : i64[B]
          %w = param() {name="w", init="uniform", bound=0.5} : f32[12,12]
          %v = param() {name="v", init="uniform", bound=0.5} : f32[3,12]
          %a = matmul(%x, %w) {transpose_b=true} : f32[B,12]
          %t = tanh(%a) : f32[B,12]
          %r = reshape(%t) {shape=shape[B,3,4]} : f32[B,3,4]
          %s = sigmoid(%r) : f32[B,3,4]
          %q = reshape_like(%s, %t) : f32[B,12]
          %m = mul(%q, %t) : f32[B,12]
          %z = matmul(%m, %v) {transpose_b=true} : f32[B,3]
          %l = log_softmax(%z) {axis=-1} : f32[B,3]
          %loss = nll_loss(%l, %y)
          loss = %loss
        }
        """, file: "views.gir")
        let training = try Pipeline(["autodiff", "cse", "dce"]).run(g, .checked)
        var weights: [[String: [UInt32]]] = []
        for planner in [BufferPlan.lifetimes, { _, sizes in BufferPlan.onePerValue(byteSizes: sizes) }] as [BufferPlanner] {
            let store = ParameterStore()
            try store.initialise(from: training, seed: 5)
            let trainer = try Trainer(graph: training, parameters: store, optimizer: SGD(learningRate: 0.1),
                                      options: ExecutionOptions(training: true, seed: 1), planner: planner)
            for step in 0..<4 { _ = try trainer.step(feeds: randomFeeds(training, size: 5, seed: UInt64(step))) }
            XCTAssertEqual(Set(trainer.fusedUpdateParameters), ["w", "v"], "the SGD step ran in the weight gradients")
            weights.append(Dictionary(uniqueKeysWithValues: ["w", "v"].map { ($0, store.get($0)!.floats.map(\.bitPattern)) }))
        }
        XCTAssertEqual(weights[0], weights[1])
    }
}
