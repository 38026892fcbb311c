import Foundation
import XCTest
@testable import Datasets

final class NPZArchiveTests: XCTestCase {
    let ints: [Int64] = [5, 1, 4]
    let doubles: [Double] = (0..<300).map { Double($0) / 256 }

    func members(deflated: Bool) -> [TestFiles.ZipMember] {
        [.init(name: "ints.npy", content: TestFiles.npy(descr: "<i8", shape: [3], data: TestFiles.bytes(of: ints)), deflated: deflated),
         .init(name: "X.npy", content: TestFiles.npy(descr: "<f8", shape: [3, 100], data: TestFiles.bytes(of: doubles)), deflated: deflated)]
    }

    func testStoredDeflatedAndZip64Directories() throws {
        for (deflated, numpyStyle, zip64) in [(false, false, false), (true, true, false), (true, true, true), (false, true, true)] {
            let archive = try NPZArchive(data: Data(TestFiles.zip(members(deflated: deflated), numpyStyle: numpyStyle, zip64Directory: zip64)), path: "a.npz")
            XCTAssertEqual(archive.keys, ["ints", "X"])
            XCTAssertEqual(try archive.array("ints").int64s(), ints)
            let x = try archive.array("X")
            XCTAssertEqual(x.shape, [3, 100])
            XCTAssertEqual(x.floats(), doubles.map { Float($0) })
        }
    }

    func testMissingKeyListsKeys() throws {
        let archive = try NPZArchive(data: Data(TestFiles.zip(members(deflated: true))), path: "/d/Fashion-MNIST.npz")
        TestFiles.assertDataError(["Fashion-MNIST.npz", "missing key 'Xdev'", "ints, X"]) { _ = try archive.array("Xdev") }
    }

    func testCorruptArchives() throws {
        var zip = TestFiles.zip(members(deflated: true))
        TestFiles.assertDataError(["c.npz", "not a zip archive"]) { _ = try NPZArchive(data: Data(zip[0..<10]), path: "c.npz") }
        TestFiles.assertDataError(["c.npz", "end of central directory not found"]) {
            _ = try NPZArchive(data: Data(zip[0..<(zip.count - 3)]), path: "c.npz")
        }
        // Cut out the middle of the data: the directory now points past the end.
        let cut = Array(zip[0..<40]) + Array(zip[(zip.count - 200)...])
        XCTAssertThrowsError(try NPZArchive(data: Data(cut), path: "c.npz").array("X")) { e in
            XCTAssertTrue("\(e)".contains("c.npz"), "\(e)")
        }
        // Damage the deflated bytes of the first entry: inflate or the CRC check must fail.
        zip[63] ^= 0xff
        zip[64] ^= 0xff
        let damaged = try NPZArchive(data: Data(zip), path: "d.npz")
        TestFiles.assertDataError(["d.npz", "entry ints.npy"]) { _ = try damaged.array("ints") }
    }

    func testCRCMismatchOnStoredEntry() throws {
        var zip = TestFiles.zip(members(deflated: false), numpyStyle: false)
        // Last data byte of the first entry (an int64 of the payload).
        let firstSize = TestFiles.npy(descr: "<i8", shape: [3], data: TestFiles.bytes(of: ints)).count
        zip[30 + "ints.npy".utf8.count + firstSize - 1] ^= 1
        let archive = try NPZArchive(data: Data(zip), path: "s.npz")
        TestFiles.assertDataError(["s.npz", "entry ints.npy", "CRC mismatch"]) { _ = try archive.array("ints") }
    }

    func testBadEntryContentIsNamed() throws {
        let bad = TestFiles.npy(descr: "<f4", shape: [2, 2], data: [UInt8](repeating: 0, count: 16), fortran: true)
        let archive = try NPZArchive(data: Data(TestFiles.zip([.init(name: "Xtest.npy", content: bad, deflated: true)])), path: "f.npz")
        TestFiles.assertDataError(["f.npz", "entry Xtest.npy", "Fortran"]) { _ = try archive.array("Xtest") }
    }
}
