import GraphIR
import Runtime
import XCTest

final class KernelMovementTests: XCTestCase {
    let data = TestData(seed: 15)

    func testReshapeKeepsElementsForBothTypes() throws {
        let x = data.floats([2, 3, 4])
        let y = try runOp(.reshape, [x], ["shape": .shape(Shape(known: [4, -1]))])
        XCTAssertEqual(y.shape, [4, 6]); XCTAssertEqual(y.floats, x.floats)
        let ids = data.ints([3, 5], below: 100)
        let r = try runOp(.reshapeLike, [ids, HostTensor(zeros: [15])])
        XCTAssertEqual(r.dtype, .i64); XCTAssertEqual(r.shape, [15]); XCTAssertEqual(r.ints, ids.ints)
    }

    func testTransposeAnyPermutation() throws {
        let shape = [2, 3, 4, 5]
        for perm in [[1, 0, 2, 3], [3, 2, 1, 0], [0, 2, 3, 1], [2, 0, 3, 1], [0, 1, 3, 2], [0, 1, 2, 3]] {
            let x = data.floats(shape)
            let y = try runOp(.transpose, [x], ["perm": .ints(perm)])
            let outShape = perm.map { shape[$0] }
            let expected = (0..<x.count).map { o -> Double in
                let oi = unravel(o, outShape)
                var ii = [Int](repeating: 0, count: 4)
                for k in 0..<4 { ii[perm[k]] = oi[k] }
                return Double(x.floats[ravel(ii, shape)])
            }
            assertClose(y, expected, shape: outShape, "perm \(perm)")
        }
        let ids = HostTensor(shape: [2, 3], ints: [1, 2, 3, 4, 5, 6])
        let t = try runOp(.transpose, [ids], ["perm": .ints([1, 0])])
        XCTAssertEqual(t.ints, [1, 4, 2, 5, 3, 6])
    }

    func testConcatAlongEveryAxis() throws {
        for axis in [0, 1, 2, -1, -2] {
            let a = axis < 0 ? axis + 3 : axis
            var s1 = [2, 3, 4], s2 = [2, 3, 4], s3 = [2, 3, 4]
            s1[a] = 1; s2[a] = 2; s3[a] = 3
            let xs = [data.floats(s1), data.floats(s2), data.floats(s3)]
            let y = try runOp(.concat, xs, ["axis": .int(axis)])
            var outShape = s1; outShape[a] = 6
            let expected = (0..<outShape.reduce(1, *)).map { o -> Double in
                var idx = unravel(o, outShape)
                var which = 0
                while idx[a] >= xs[which].shape[a] { idx[a] -= xs[which].shape[a]; which += 1 }
                return Double(xs[which].floats[ravel(idx, xs[which].shape)])
            }
            assertClose(y, expected, shape: outShape, "concat axis \(axis)")
        }
        let ids = try runOp(.concat, [HostTensor(shape: [2, 1], ints: [1, 2]), HostTensor(shape: [2, 2], ints: [3, 4, 5, 6])], ["axis": .int(1)])
        XCTAssertEqual(ids.ints, [1, 3, 4, 2, 5, 6])
    }

    /// A slice large enough to be split over threads (the attention decoder's weight columns)
    /// copies the same elements at 1 and 2 threads as a plain loop picks.
    func testALargeSliceSplitOverThreads() throws {
        let rows = 1024, width = 612, start = 100, end = 612
        let x = HostTensor(shape: [rows, width], floats: (0..<rows * width).map { Float($0 % 1013) - 500 })
        var want: [Float] = []
        for r in 0..<rows { want += x.floats[(r * width + start)..<(r * width + end)] }
        for threads in [1, 2] {
            let y = try runOp(.slice, [x], ["axis": .int(1), "start": .int(start), "end": .int(end)], threads: threads)
            XCTAssertEqual(y.shape, [rows, end - start])
            XCTAssertEqual(y.floats, want, "\(threads) threads")
        }
    }

    func testSliceSelectAndTheirGradients() throws {
        let shape = [3, 5, 4]
        let x = data.floats(shape)
        for (axis, start, end) in [(0, 1, 3), (1, 0, 2), (1, 2, 5), (-1, 1, 2), (2, 0, 4)] {
            let a = axis < 0 ? axis + 3 : axis
            let attrs: Attributes = ["axis": .int(axis), "start": .int(start), "end": .int(end)]
            var outShape = shape; outShape[a] = end - start
            let y = try runOp(.slice, [x], attrs)
            let expected = (0..<outShape.reduce(1, *)).map { o -> Double in
                var idx = unravel(o, outShape); idx[a] += start
                return Double(x.floats[ravel(idx, shape)])
            }
            assertClose(y, expected, shape: outShape, "slice \(axis) \(start)..<\(end)")

            let dy = data.floats(outShape)
            var dx = [Double](repeating: 0, count: x.count)
            for o in 0..<dy.count { var idx = unravel(o, outShape); idx[a] += start; dx[ravel(idx, shape)] = Double(dy.floats[o]) }
            assertClose(try runOp(.sliceGrad, [dy, x], attrs), dx, shape: shape, "slice_grad \(axis)")
        }
        for (axis, index) in [(0, 2), (1, 0), (1, 4), (-1, 3)] {
            let a = axis < 0 ? axis + 3 : axis
            let attrs: Attributes = ["axis": .int(axis), "index": .int(index)]
            var outShape = shape; outShape.remove(at: a)
            let y = try runOp(.select, [x], attrs)
            let expected = (0..<outShape.reduce(1, *)).map { o -> Double in
                var idx = unravel(o, outShape); idx.insert(index, at: a)
                return Double(x.floats[ravel(idx, shape)])
            }
            assertClose(y, expected, shape: outShape, "select \(axis) \(index)")

            let dy = data.floats(outShape)
            var dx = [Double](repeating: 0, count: x.count)
            for o in 0..<dy.count { var idx = unravel(o, outShape); idx.insert(index, at: a); dx[ravel(idx, shape)] = Double(dy.floats[o]) }
            assertClose(try runOp(.selectGrad, [dy, x], attrs), dx, shape: shape, "select_grad \(axis)")
        }
        let ids = try runOp(.select, [HostTensor(shape: [2, 3], ints: [1, 2, 3, 4, 5, 6])], ["axis": .int(1), "index": .int(1)])
        XCTAssertEqual(ids.ints, [2, 5])
    }

    func testStackInsertsANewAxis() throws {
        let xs = (0..<3).map { _ in data.floats([2, 4]) }
        for axis in [0, 1, 2, -1, -3] {
            let a = axis < 0 ? axis + 3 : axis
            let y = try runOp(.stack, xs, ["axis": .int(axis)])
            var outShape = [2, 4]; outShape.insert(3, at: a)
            let expected = (0..<24).map { o -> Double in
                var idx = unravel(o, outShape)
                let which = idx.remove(at: a)
                return Double(xs[which].floats[ravel(idx, [2, 4])])
            }
            assertClose(y, expected, shape: outShape, "stack axis \(axis)")
        }
    }
}
