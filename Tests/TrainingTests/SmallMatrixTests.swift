import Foundation
import Training
import XCTest

/// The Double matrix helpers behind Q1's checks, against matrices whose inverse and singular
/// values are known in closed form.
final class SmallMatrixTests: XCTestCase {
    func assertClose(_ a: [Double], _ b: [Double], _ tolerance: Double, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: tolerance, file: file, line: line) }
    }

    /// A rotation by `angle` in the (i, j) plane of n dimensions: orthogonal.
    func rotation(_ n: Int, _ i: Int, _ j: Int, _ angle: Double) -> SmallMatrix {
        var r = SmallMatrix.identity(n)
        r[i, i] = cos(angle); r[j, j] = cos(angle); r[i, j] = -sin(angle); r[j, i] = sin(angle)
        return r
    }

    func testProductAndTranspose() {
        let a = SmallMatrix(rows: 2, columns: 3, values: [1, 2, 3, 4, 5, 6])
        let b = SmallMatrix(rows: 3, columns: 2, values: [7, 8, 9, 10, 11, 12])
        XCTAssertEqual((a * b).values, [58, 64, 139, 154])
        XCTAssertEqual(a.transposed.values, [1, 4, 2, 5, 3, 6])
        XCTAssertEqual(a.transposed.rows, 3)
    }

    func testInverseOfAMatrixNeedingAPivot() throws {
        // The zero in the corner forces a row swap.
        let a = SmallMatrix(rows: 3, columns: 3, values: [0, 2, 1, 1, 1, 0, 3, 0, 1])
        let inv = try XCTUnwrap(a.inverse)
        assertClose((a * inv).values, SmallMatrix.identity(3).values, 1e-12)
        assertClose((inv * a).values, SmallMatrix.identity(3).values, 1e-12)
    }

    func testSingularMatrixHasNoInverse() {
        XCTAssertNil(SmallMatrix(rows: 2, columns: 2, values: [1, 2, 2, 4]).inverse)
        XCTAssertNil(SmallMatrix(rows: 2, columns: 3, values: [1, 2, 3, 4, 5, 6]).inverse)
    }

    func testSingularValuesOfATwoByTwo() {
        // AᵀA = [[25, 20], [20, 25]] has eigenvalues 45 and 5.
        let a = SmallMatrix(rows: 2, columns: 2, values: [3, 0, 4, 5])
        assertClose(a.singularValues, [sqrt(45.0), sqrt(5.0)], 1e-12)
    }

    func testSingularValuesOfRotatedDiagonal() {
        // U diag(5, 3, 1, 0.5) V with U, V products of rotations: singular values 5, 3, 1, 0.5.
        let u = rotation(4, 0, 1, 0.7) * rotation(4, 1, 3, -1.1) * rotation(4, 0, 2, 0.3)
        let v = rotation(4, 2, 3, 0.4) * rotation(4, 0, 3, 1.9)
        var d = SmallMatrix.identity(4)
        for (i, s) in [3.0, 0.5, 5, 1].enumerated() { d[i, i] = s }
        let a = u * d * v
        assertClose(a.singularValues, [5, 3, 1, 0.5], 1e-12)
        assertClose(a.transposed.singularValues, [5, 3, 1, 0.5], 1e-12)
        XCTAssertEqual(a.rank(relativeTolerance: 1e-9), 4)
    }

    func testRankDeficientProductHasTinySingularValues() {
        // u vᵀ has one singular value |u| |v|; a product through 2 columns has rank 2.
        let u = SmallMatrix(rows: 5, columns: 1, values: [1, 2, 2, 0, 4])
        let v = SmallMatrix(rows: 4, columns: 1, values: [3, 0, 4, 0])
        let outer = u * v.transposed
        let s = outer.singularValues
        XCTAssertEqual(s.count, 4)
        XCTAssertEqual(s[0], 5 * 5, accuracy: 1e-12)
        for x in s.dropFirst() { XCTAssertLessThan(x, 1e-12) }
        XCTAssertEqual(outer.rank(relativeTolerance: 1e-9), 1)
        let p = SmallMatrix(rows: 6, columns: 2, values: [1, 0, 2, 1, 0, 3, 1, 1, 4, 0, 2, 2])
        let q = SmallMatrix(rows: 2, columns: 6, values: [1, 2, 0, 1, 3, 1, 0, 1, 1, 2, 0, 1])
        XCTAssertEqual((p * q).rank(relativeTolerance: 1e-9), 2)
        XCTAssertEqual(SmallMatrix(rows: 3, columns: 3, values: [Double](repeating: 0, count: 9)).rank(relativeTolerance: 1e-9), 0)
    }
}
