import Foundation
import GraphIR
@testable import Runtime
import XCTest

final class HostTensorTests: XCTestCase {
    func testAccessorsConvertBetweenElementTypes() {
        let f = HostTensor(shape: [2, 2], floats: [1.9, -2.7, .nan, 1e30])
        XCTAssertEqual(f.dtype, .f32); XCTAssertEqual(f.count, 4)
        XCTAssertEqual(f.ints, [1, -2, 0, Int64.max], "truncate toward zero, NaN to 0, saturate")
        let i = HostTensor(shape: [3], ints: [3, -1, 7])
        XCTAssertEqual(i.dtype, .i64); XCTAssertEqual(i.floats, [3, -1, 7])
        var t = HostTensor(zeros: [2, 3], dtype: .i64)
        XCTAssertEqual(t.ints, [0, 0, 0, 0, 0, 0])
        t.floats = [1, 2, 3, 4, 5, 6]
        XCTAssertEqual(t.dtype, .f32)
        XCTAssertEqual(HostTensor(scalar: 4).scalar, 4)
        XCTAssertEqual(HostTensor(zeros: [-1]).storedCount, 0, "a negative size makes an empty tensor, not a crash")
        XCTAssertEqual(HostTensor(shape: [2], floats: [1]).storedCount, 1)
    }

    func testRawCopiesRoundTrip() {
        let t = HostTensor(shape: [2, 2], ints: [5, 6, 7, 8])
        let p = UnsafeMutableRawPointer.allocate(byteCount: 32, alignment: 8)
        defer { p.deallocate() }
        t.copyBytes(to: p, count: 4)
        XCTAssertEqual(HostTensor(copying: p, shape: [4], dtype: .i64).ints, [5, 6, 7, 8])
    }

    /// A feed copied by rows over a pool (the executor's path for a batch) writes the same
    /// bytes as one copy: whole rows, an uneven split, fewer values asked for than stored, a
    /// feed too small to split, and rows that do not divide the values.
    func testCopiesSplitByRowsMatchOneCopy() {
        let pool = WorkerPool(threads: 3, tuner: Tuner(mode: .off))
        for (rows, perRow, asked) in [(64, 784, 64 * 784), (7, 5000, 7 * 5000), (8, 4096, 8 * 4096 - 3), (4, 10, 40), (5, 4001, 3 * 4001)] {
            let stored = rows * perRow
            for t in [HostTensor(shape: [rows, perRow], floats: (0..<stored).map { Float($0) * 0.5 - 7 }),
                      HostTensor(shape: [rows, perRow], ints: (0..<stored).map { Int64($0) * 3 - 11 })] {
                let size = t.dtype == .f32 ? 4 : 8
                let whole = UnsafeMutableRawPointer.allocate(byteCount: stored * size, alignment: 64)
                let split = UnsafeMutableRawPointer.allocate(byteCount: stored * size, alignment: 64)
                defer { whole.deallocate(); split.deallocate() }
                whole.initializeMemory(as: UInt8.self, repeating: 0xAB, count: stored * size)
                split.initializeMemory(as: UInt8.self, repeating: 0xAB, count: stored * size)
                t.copyBytes(to: whole, count: asked)
                t.copyBytes(to: split, count: asked, rows: rows, pool: pool)
                XCTAssertEqual(memcmp(whole, split, stored * size), 0, "\(t.dtype) \(rows) x \(perRow), \(asked) asked")
            }
        }
    }
}
