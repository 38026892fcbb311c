import GraphIR
import Runtime
import XCTest

final class KernelReductionTests: XCTestCase {
    let data = TestData(seed: 12)

    /// Reference: sum of every input element into the output index that drops (or keeps as
    /// 0) the reduced axes.
    func referenceReduce(_ x: HostTensor, axes: Set<Int>, keepdims: Bool, mean: Bool) -> ([Int], [Double]) {
        let shape = x.shape
        var kept: [Int] = []
        for (i, d) in shape.enumerated() { if axes.contains(i) { if keepdims { kept.append(1) } } else { kept.append(d) } }
        let outShape = kept
        var out = [Double](repeating: 0, count: outShape.reduce(1, *))
        var counts = 1
        for a in axes { counts *= shape[a] }
        for i in 0..<x.count {
            let idx = unravel(i, shape)
            var o: [Int] = []
            for (k, v) in idx.enumerated() { if axes.contains(k) { if keepdims { o.append(0) } } else { o.append(v) } }
            out[ravel(o, outShape)] += Double(x.floats[i])
        }
        return (outShape, mean ? out.map { $0 / Double(counts) } : out)
    }

    func testSumAndMeanOverAxes() throws {
        let x = data.floats([3, 4, 5, 2])
        let cases: [([Int], Bool)] = [([0], false), ([1], true), ([-1], false), ([0, 2], true), ([1, 3], false),
                                      ([0, 1, 2, 3], false), ([0, 1, 2, 3], true), ([2, -3], false)]
        for (axes, keep) in cases {
            let norm = Set(axes.map { $0 < 0 ? $0 + 4 : $0 })
            for (op, mean) in [(OpDef.sum, false), (OpDef.mean, true)] {
                let y = try runOp(op, [x], ["axes": .ints(axes), "keepdims": .bool(keep)])
                let (shape, expected) = referenceReduce(x, axes: norm, keepdims: keep, mean: mean)
                assertClose(y, expected, shape: shape, "\(op.name) axes \(axes) keepdims \(keep)")
            }
        }
    }

    func testReduceLikeSumsBroadcastAxes() throws {
        let x = data.floats([2, 3, 4])
        for target in [[3, 1], [4], [1, 3, 4], [2, 1, 1], [], [3, 4], [2, 3, 4]] {
            let ref = HostTensor(zeros: target)
            let y = try runOp(.reduceLike, [x, ref])
            var expected = [Double](repeating: 0, count: target.reduce(1, *))
            for i in 0..<x.count { expected[broadcastIndex(unravel(i, [2, 3, 4]), from: target)] += Double(x.floats[i]) }
            assertClose(y, expected, shape: target, "reduce_like to \(target)")
        }
    }

    func testBroadcastLikeStretches() throws {
        let ref = HostTensor(zeros: [2, 3, 4])
        for source in [[3, 1], [4], [1, 3, 4], [2, 1, 1], [], [2, 3, 4]] {
            let x = data.floats(source)
            let y = try runOp(.broadcastLike, [x, ref])
            let expected = (0..<24).map { Double(x.floats[broadcastIndex(unravel($0, [2, 3, 4]), from: source)]) }
            assertClose(y, expected, shape: [2, 3, 4], "broadcast_like from \(source)")
        }
    }

    func testArgmaxTakesFirstMaximumAlongAnyAxis() throws {
        let x = data.floats([3, 5, 4])
        for axis in [0, 1, 2, -1, -2] {
            let a = axis < 0 ? axis + 3 : axis
            let y = try runOp(.argmax, [x], ["axis": .int(axis)])
            XCTAssertEqual(y.dtype, .i64)
            var outShape = x.shape; outShape.remove(at: a)
            XCTAssertEqual(y.shape, outShape)
            for o in 0..<y.count {
                var idx = unravel(o, outShape); idx.insert(0, at: a)
                var best = -Float.infinity, at = 0
                for k in 0..<x.shape[a] {
                    idx[a] = k
                    let v = x.floats[ravel(idx, x.shape)]
                    if v > best { best = v; at = k }
                }
                XCTAssertEqual(y.ints[o], Int64(at), "axis \(axis) position \(o)")
            }
        }
        let ties = HostTensor(shape: [2, 4], floats: [1, 3, 3, 0, 2, 2, 2, 2])
        XCTAssertEqual(try runOp(.argmax, [ties], ["axis": .int(1)]).ints, [1, 0])
    }

    /// select_last picks the last of equal maxima (ONNX's select_last_index): against a scan
    /// from the end, on values with many ties, along every axis.
    func testArgmaxSelectLastTakesTheLastMaximum() throws {
        let x = HostTensor(shape: [3, 5, 4], floats: (0..<60).map { Float(($0 * 7) % 4) })
        for axis in [0, 1, 2, -1] {
            let a = axis < 0 ? axis + 3 : axis
            let y = try runOp(.argmax, [x], ["axis": .int(axis), "select_last": .bool(true)])
            var outShape = x.shape; outShape.remove(at: a)
            XCTAssertEqual(y.shape, outShape)
            for o in 0..<y.count {
                var idx = unravel(o, outShape); idx.insert(0, at: a)
                var best = -Float.infinity, at = 0
                for k in stride(from: x.shape[a] - 1, through: 0, by: -1) {
                    idx[a] = k
                    let v = x.floats[ravel(idx, x.shape)]
                    if v > best { best = v; at = k }
                }
                XCTAssertEqual(y.ints[o], Int64(at), "axis \(axis) position \(o)")
            }
        }
        let ties = HostTensor(shape: [2, 4], floats: [1, 3, 3, 0, 2, .nan, 2, .nan])
        XCTAssertEqual(try runOp(.argmax, [ties], ["axis": .int(1), "select_last": .bool(true)]).ints, [2, 1])
    }
}
