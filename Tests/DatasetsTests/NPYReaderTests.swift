import Foundation
import XCTest
@testable import Datasets

final class NPYReaderTests: XCTestCase {
    func testReadsEachDtype() throws {
        let d: [Double] = [0.5, -1.25, 3e10, 0.00390625]
        let a = try NPYReader.parse(Data(TestFiles.npy(descr: "<f8", shape: [2, 2], data: TestFiles.bytes(of: d))), file: "a.npy")
        XCTAssertEqual(a.dtype, .f64)
        XCTAssertEqual(a.shape, [2, 2])
        XCTAssertEqual(a.floats(), d.map { Float($0) })

        let f: [Float] = [1.5, -2, 0.25]
        let b = try NPYReader.parse(Data(TestFiles.npy(descr: "<f4", shape: [3], data: TestFiles.bytes(of: f))), file: "b.npy")
        XCTAssertEqual(b.floats(), f)
        TestFiles.assertDataError(["b.npy", "expected an integer array", "<f4"]) { _ = try b.int64s() }

        let i: [Int64] = [-3, 0, 1 << 40]
        let c = try NPYReader.parse(Data(TestFiles.npy(descr: "<i8", shape: [3], data: TestFiles.bytes(of: i))), file: "c.npy")
        XCTAssertEqual(try c.int64s(), i)

        let j: [Int32] = [7, -8]
        let e = try NPYReader.parse(Data(TestFiles.npy(descr: "<i4", shape: [2, 1], data: TestFiles.bytes(of: j))), file: "e.npy")
        XCTAssertEqual(try e.int64s(), [7, -8])
        XCTAssertEqual(e.shape, [2, 1])

        let u = try NPYReader.parse(Data(TestFiles.npy(descr: "|u1", shape: [2], data: [0, 255])), file: "u.npy")
        XCTAssertEqual(try u.int64s(), [0, 255])
        XCTAssertEqual(u.floats(), [0, 255])

        let scalar = try NPYReader.parse(Data(TestFiles.npy(descr: "<i8", shape: [], data: TestFiles.bytes(of: [Int64(9)]))), file: "s.npy")
        XCTAssertEqual(scalar.shape, [])
        XCTAssertEqual(try scalar.int64s(), [9])
    }

    func testVersion2And3Headers() throws {
        for v: UInt8 in [2, 3] {
            let a = try NPYReader.parse(Data(TestFiles.npy(descr: "<i8", shape: [2], data: TestFiles.bytes(of: [Int64(4), 5]), version: v)), file: "v.npy")
            XCTAssertEqual(try a.int64s(), [4, 5])
        }
        TestFiles.assertDataError(["v9.npy", "unsupported NPY format version 9"]) {
            _ = try NPYReader.parse(Data(TestFiles.npy(descr: "<i8", shape: [0], data: [], version: 9)), file: "v9.npy")
        }
    }

    func testUnsupportedDtypeAndOrder() {
        TestFiles.assertDataError(["big.npy", "unsupported dtype '>f8'"]) {
            _ = try NPYReader.parse(Data(TestFiles.npy(descr: ">f8", shape: [1], data: [UInt8](repeating: 0, count: 8))), file: "/x/big.npy")
        }
        TestFiles.assertDataError(["c.npy", "unsupported dtype '<c16'"]) {
            _ = try NPYReader.parse(Data(TestFiles.npy(descr: "<c16", shape: [1], data: [UInt8](repeating: 0, count: 16))), file: "c.npy")
        }
        TestFiles.assertDataError(["fort.npy", "Fortran"]) {
            _ = try NPYReader.parse(Data(TestFiles.npy(descr: "<f4", shape: [2, 2], data: [UInt8](repeating: 0, count: 16), fortran: true)), file: "fort.npy")
        }
        var rec = TestFiles.npy(descr: "<f4", shape: [1], data: [0, 0, 0, 0])
        let header = "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }\n"
        rec = [0x93] + Array("NUMPY".utf8) + [1, 0] + TestFiles.le16(header.utf8.count) + Array(header.utf8) + [0, 0, 0, 0]
        TestFiles.assertDataError(["rec.npy", "structured"]) { _ = try NPYReader.parse(Data(rec), file: "rec.npy") }
    }

    func testSizeAndHeaderErrors() {
        TestFiles.assertDataError(["t.npy", "truncated: shape (3,) of '<i8' needs 24 data bytes, found 16"]) {
            _ = try NPYReader.parse(Data(TestFiles.npy(descr: "<i8", shape: [3], data: [UInt8](repeating: 0, count: 16))), file: "t.npy")
        }
        TestFiles.assertDataError(["x.npy", "size mismatch"]) {
            _ = try NPYReader.parse(Data(TestFiles.npy(descr: "|u1", shape: [3], data: [1, 2, 3, 4])), file: "x.npy")
        }
        TestFiles.assertDataError(["m.npy", "bad magic"]) { _ = try NPYReader.parse(Data(Array("PK\u{3}\u{4}hello world".utf8)), file: "m.npy") }
        let broken = "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }\n"
        let bytes = [0x93] + Array("NUMPY".utf8) + [1, 0] + TestFiles.le16(broken.utf8.count) + Array(broken.utf8)
        TestFiles.assertDataError(["h.npy", "bad NPY header", "Maybe"]) { _ = try NPYReader.parse(Data(bytes), file: "h.npy") }
        let long = [0x93] + Array("NUMPY".utf8) + [1, 0] + TestFiles.le16(500) + Array("{}".utf8)
        TestFiles.assertDataError(["l.npy", "truncated: NPY header says 500 bytes"]) { _ = try NPYReader.parse(Data(long), file: "l.npy") }
    }

    func testEveryPrefixIsAnError() {
        let valid = TestFiles.npy(descr: "<f4", shape: [2], data: TestFiles.bytes(of: [Float(1), 2]))
        for n in 0..<valid.count {
            XCTAssertThrowsError(try NPYReader.parse(Data(valid[0..<n]), file: "p.npy"), "prefix \(n)")
        }
    }
}
