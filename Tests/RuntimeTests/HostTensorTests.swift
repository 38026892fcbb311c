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
}
