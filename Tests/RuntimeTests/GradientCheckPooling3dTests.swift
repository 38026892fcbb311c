import GraphIR
import Passes
import Runtime
import XCTest

/// The 3-D pooling ops' gradient rules against central differences (op -> multiply by a fixed
/// random tensor -> sum, as in GradientCheckOpTests).
final class GradientCheckPooling3dTests: XCTestCase {
    let windows: [(pads: [Int], dilation: [Int], ceil: Bool, includePad: Bool)] = [
        ([0, 0, 0, 0, 0, 0], [1, 1, 1], false, false),
        ([1, 0, 1, 0, 1, 1], [1, 1, 1], true, true),
        ([0, 1, 0, 1, 0, 0], [2, 1, 2], true, false),
        ([1, 1, 1, 1, 1, 1], [1, 2, 1], false, true),
    ]

    func attributes(_ w: (pads: [Int], dilation: [Int], ceil: Bool, includePad: Bool)) -> Attributes {
        ["kernel": .ints([2, 3, 2]), "stride": .ints([2, 2, 1]), "padding": .ints(w.pads), "dilation": .ints(w.dilation),
         "ceil_mode": .bool(w.ceil)]
    }

    func testMaxpool3d() throws {
        for w in windows {
            let c = GradientCheckGraph("maxpool3d")
            // Distinct values 0.05 apart, perturbed by 0.01: no window's maximum changes.
            let x = c.param("x", [1, 2, 5, 6, 4], c.distinct(240))
            try c.finishWithWeightedSum(try c.emit(.maxpool3d, [x], attributes(w)))
            try checkGradients(c, eps: 1e-2, expect: ["x"])
        }
    }

    func testAvgpool3d() throws {
        for w in windows {
            let c = GradientCheckGraph("avgpool3d")
            let x = c.param("x", [2, 1, 5, 6, 4])
            var a = attributes(w)
            a["count_include_pad"] = .bool(w.includePad)
            try c.finishWithWeightedSum(try c.emit(.avgpool3d, [x], a))
            try checkGradients(c, expect: ["x"])
        }
    }
}
