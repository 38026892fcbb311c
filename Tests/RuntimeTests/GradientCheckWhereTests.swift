import GraphIR
import Passes
import Runtime
import XCTest

/// `where`'s gradient rule against central differences: each operand gets the gradient where
/// it was picked, summed over the axes it was broadcast along.
final class GradientCheckWhereTests: XCTestCase {
    func testWhereWithBroadcastOperands() throws {
        for (xShape, yShape) in [([2, 3], [2, 3]), ([3], [2, 1]), ([1, 3], [])] {
            let c = GradientCheckGraph("where\(xShape)\(yShape)")
            let cond = c.ids("cond", Shape(known: [2, 3]), [1, 0, 0, 1, 1, 0])
            let x = c.param("x", xShape), y = c.param("y", yShape)
            try c.finishWithWeightedSum(try c.emit(.where, [cond, x, y]))
            try checkGradients(c, expect: ["x", "y"])
        }
    }
}
