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
        TestFiles.assertDataError(["c.npz", "no end-of-central-directory record"]) {
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
        TestFiles.assertDataError(["s.npz", "entry ints.npy", "CRC-32 mismatch"]) { _ = try archive.array("ints") }
    }

    func testBadEntryContentIsNamed() throws {
        let bad = TestFiles.npy(descr: "<f4", shape: [2, 2], data: [UInt8](repeating: 0, count: 16), fortran: true)
        let archive = try NPZArchive(data: Data(TestFiles.zip([.init(name: "Xtest.npy", content: bad, deflated: true)])), path: "f.npz")
        TestFiles.assertDataError(["f.npz", "entry Xtest.npy", "Fortran"]) { _ = try archive.array("Xtest") }
    }

    /// Bytes numpy 2.4 wrote: `np.savez_compressed(f, ytest=np.array([3, 1, 4]),
    /// Xtest=np.arange(8.0).reshape(2, 1, 2, 2) / 256)` (forced zip64 local headers, deflate).
    static let numpyCompressedHex = "504b03042d00000008000000210058e06374ffffffffffffffff0900140079746573742e6e70790100100098000000000000004d000000000000009bec17ea1b10c9c850c650ad9e925a9c5ca46ea5a06e9369a1aea3a09e965f54529498179f5f94920a12774bcc294e058a17672416a402f91ac63a9a3a0ab50a14002e6606086084d22c501a00504b03042d000000080000002100159b19ffffffffffffffffff0900140058746573742e6e707901001000c00000000000000061000000000000009bec17ea1b10c9c850c650ad9e925a9c5ca46ea5a06e9366a1aea3a09e965f54529498179f5f94920a12774bcc294e058a17672416a402f91a463a0a863a0a40d2485347a156810cc0c580020aec21740394ee80d213a0f414283d034acfb10700504b01022d032d00000008000000210058e063744d0000009800000009000000000000000000000080010000000079746573742e6e7079504b01022d032d000000080000002100159b19ff61000000c000000009000000000000000000000080018800000058746573742e6e7079504b050600000000020002006e000000240100000000"

    /// `np.savez(f, u=np.array([7, 255], dtype=np.uint8))` (stored).
    static let numpyStoredHex = "504b03042d000000000000002100452b33caffffffffffffffff05001400752e6e70790100100082000000000000008200000000000000934e554d5059010076007b276465736372273a20277c7531272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a07ff504b01022d032d000000000000002100452b33ca8200000082000000050000000000000000000000800100000000752e6e7079504b0506000000000100010033000000b90000000000"

    static func bytes(hex: String) -> Data {
        var out = Data()
        var it = hex.makeIterator()
        while let a = it.next(), let b = it.next(), let v = UInt8(String([a, b]), radix: 16) { out.append(v) }
        return out
    }

    func testReadsWhatNumpyWrites() throws {
        let compressed = try NPZArchive(data: Self.bytes(hex: Self.numpyCompressedHex), path: "np.npz")
        XCTAssertEqual(compressed.keys, ["ytest", "Xtest"])
        XCTAssertEqual(try compressed.array("ytest").int64s(), [3, 1, 4])
        let x = try compressed.array("Xtest")
        XCTAssertEqual(x.dtype, .f64)
        XCTAssertEqual(x.shape, [2, 1, 2, 2])
        XCTAssertEqual(x.floats(), (0..<8).map { Float($0) / 256 })
        let stored = try NPZArchive(data: Self.bytes(hex: Self.numpyStoredHex), path: "u.npz")
        let u = try stored.array("u")
        XCTAssertEqual(u.dtype, .u8)
        XCTAssertEqual(try u.int64s(), [7, 255])
    }
}
