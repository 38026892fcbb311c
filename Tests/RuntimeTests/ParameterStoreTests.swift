import GraphIR
@testable import Runtime
import XCTest

final class ParameterStoreTests: XCTestCase {
    func graph(_ params: [(String, [Int], Attributes)]) -> Graph {
        let b = GraphBuilder(name: "params")
        for (name, shape, attrs) in params { _ = b.parameter(name, .f32(Shape(known: shape)), initializer: attrs) }
        return b.finish()
    }

    func stats(_ v: [Float]) -> (mean: Double, variance: Double) {
        let m = v.reduce(0.0) { $0 + Double($1) } / Double(v.count)
        return (m, v.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(v.count))
    }

    func testInitialisersFollowTheirAttributes() throws {
        let g = graph([
            ("u", [100, 50], ["init": .string("uniform"), "bound": .float(0.1)]),
            ("lh", [4000], ["init": .string("uniform"), "low": .float(2), "high": .float(3)]),
            ("n", [80, 50], ["init": .string("normal"), "std": .float(0.5)]),
            ("z", [3, 2], ["init": .string("zeros")]),
            ("o", [5], ["init": .string("ones")]),
            ("k", [2], ["init": .string("constant"), "value": .float(-0.25)]),
        ])
        let store = ParameterStore()
        try store.initialise(from: g, seed: 42)
        XCTAssertEqual(store.names, ["u", "lh", "n", "z", "o", "k"])

        let u = try XCTUnwrap(store.get("u"))
        XCTAssertEqual(u.shape, [100, 50])
        XCTAssertTrue(u.floats.allSatisfy { $0 >= -0.1 && $0 <= 0.1 })
        let su = stats(u.floats)
        XCTAssertEqual(su.mean, 0, accuracy: 0.004)                        // sd of the mean ≈ 0.0008
        XCTAssertEqual(su.variance, 0.01 / 3, accuracy: 0.01 / 3 * 0.06)   // uniform variance b²/3
        XCTAssertGreaterThan(u.floats.max() ?? 0, 0.099); XCTAssertLessThan(u.floats.min() ?? 0, -0.099)

        let lh = try XCTUnwrap(store.get("lh")).floats
        XCTAssertTrue(lh.allSatisfy { $0 >= 2 && $0 <= 3 })
        XCTAssertEqual(stats(lh).mean, 2.5, accuracy: 0.02)

        let sn = stats(try XCTUnwrap(store.get("n")).floats)
        XCTAssertEqual(sn.mean, 0, accuracy: 0.04)
        XCTAssertEqual(sn.variance.squareRoot(), 0.5, accuracy: 0.02)

        XCTAssertEqual(store.get("z")?.floats, [0, 0, 0, 0, 0, 0])
        XCTAssertEqual(store.get("o")?.floats, [1, 1, 1, 1, 1])
        XCTAssertEqual(store.get("k")?.floats, [-0.25, -0.25])
    }

    func testSameSeedSameWeightsOtherSeedOtherWeights() throws {
        let g = graph([("a", [30], ["init": .string("uniform"), "bound": .float(1)]),
                       ("b", [30], ["init": .string("normal"), "std": .float(1)])])
        let s1 = ParameterStore(), s2 = ParameterStore(), s3 = ParameterStore()
        try s1.initialise(from: g, seed: 7); try s2.initialise(from: g, seed: 7); try s3.initialise(from: g, seed: 8)
        XCTAssertEqual(s1.get("a"), s2.get("a")); XCTAssertEqual(s1.get("b"), s2.get("b"))
        XCTAssertNotEqual(s1.get("a"), s3.get("a")); XCTAssertNotEqual(s1.get("b"), s3.get("b"))
        XCTAssertNotEqual(s1.get("a")?.floats, s1.get("b")?.floats)
    }

    func testBadInitialisersAreErrorsNamingTheParameter() throws {
        for (attrs, expected) in [
            (Attributes(), "no 'init' attribute"),
            (["init": .string("xavier")], "unknown init 'xavier'"),
            (["init": .string("uniform")], "needs 'bound'"),
            (["init": .string("normal")], "'std'"),
            (["init": .string("uniform"), "low": .float(1), "high": .float(0)], "empty"),
        ] as [(Attributes, String)] {
            XCTAssertThrowsError(try ParameterStore().initialise(from: graph([("layer.w", [2], attrs)]), seed: 1)) { e in
                let text = String(describing: e)
                XCTAssertTrue(text.contains("'layer.w'") && text.contains(expected), text)
            }
        }
        let b = GraphBuilder(name: "sym")
        _ = b.parameter("p", .f32(Shape([.symbol("B")])), initializer: ["init": .string("zeros")])
        let g = b.finish()
        XCTAssertThrowsError(try ParameterStore().initialise(from: g, seed: 1)) { e in
            XCTAssertTrue(String(describing: e).contains("'p'"), "\(e)")
        }
    }

    func testWritesBumpVersions() {
        let s = ParameterStore()
        XCTAssertEqual(s.version(of: "w"), 0)
        s.set("w", HostTensor(shape: [2], floats: [1, 2]))
        let v1 = s.version(of: "w")
        XCTAssertTrue(s.update("w") { $0[0] = 5 })
        XCTAssertGreaterThan(s.version(of: "w"), v1)
        XCTAssertEqual(s.get("w")?.floats, [5, 2])
        XCTAssertFalse(s.update("missing") { _ in })
        s["w"] = nil
        XCTAssertNil(s.get("w")); XCTAssertEqual(s.names, [])
    }
}
