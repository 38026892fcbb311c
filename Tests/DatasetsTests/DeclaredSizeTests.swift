import Foundation
import GraphIR
import XCTest
@testable import Datasets

/// Sizes declared by a file's header (zip, gzip, IDX, HDF5, vocabulary) are never trusted
/// beyond the bytes present: each case here once trapped or ran away with memory, most found
/// by the fuzzer (scripts/fuzz.sh) or the adversarial pass of issue 14.
final class DeclaredSizeTests: XCTestCase {
    typealias F = CaptioningTestFiles

    /// An npz whose ZIP64 extra field declares a 1 TiB entry trapped in `Data.reserveCapacity`.
    func testZip64EntryDeclaringATebibyteIsAnError() throws {
        let npy = TestFiles.npy(descr: "<f4", shape: [3], data: TestFiles.bytes(of: [Float(1), 2, 3]))
        for deflated in [true, false] {
            var zip = TestFiles.zip([.init(name: "x.npy", content: npy, deflated: deflated)], zip64Directory: true)
            // The central record's ZIP64 extra field: uncompressed size, then compressed size.
            let record = try ZipArchiveTests.offset(of: 0x0201_4B50, in: zip)
            let extra = record + 46 + "x.npy".utf8.count + 4
            zip.replaceSubrange(extra..<(extra + 8), with: TestFiles.le64(1 << 40))
            let archive = try NPZArchive(data: Data(zip), path: "tib.npz")
            F.assertFileError(try archive.array("x"), file: "tib.npz",
                              contains: deflated ? "declares 1099511627776 bytes" : "differs from size 1099511627776")
        }
    }

    /// A 16 MB gzip bomb whose IDX header says 10 bytes: inflation stops just past the 18 bytes
    /// the header allows instead of producing the whole 16 MB.
    func testGzipBombAsIDXStopsAtTheHeaderSize() throws {
        let dir = try TestFiles.tempDirectory()
        let bomb = TestFiles.gzip(TestFiles.idx(dims: [10], data: [UInt8](repeating: 0, count: 16 << 20)))
        let path = try TestFiles.write(bomb, dir, "bomb-labels-idx1-ubyte.gz")
        F.assertFileError(try IDXReader.read(path: path), file: path, contains: "inflates to more than the expected 18 bytes")
        // A header asking for more than the gzip data holds is a truncation, found without
        // reserving the header's size.
        let liar = try TestFiles.write(TestFiles.gzip(TestFiles.idx(dims: [0x10000, 0x10000], data: [1, 2, 3])), dir, "liar.gz")
        F.assertFileError(try IDXReader.read(path: liar), file: liar, contains: "truncated: header says 65536x65536 = 4294967296 bytes, found 3")
        // An honest gzip IDX file still reads.
        let good = try TestFiles.write(TestFiles.gzip(TestFiles.idx(dims: [2, 2], data: [1, 2, 3, 4])), dir, "good.gz")
        XCTAssertEqual(try IDXReader.read(path: good), IDXArray(dims: [2, 2], bytes: [1, 2, 3, 4]))
    }

    func testGzipPrefixAndLimit() throws {
        let stream = Data(TestFiles.gzip(Array(0..<200)))
        XCTAssertEqual(Array(try Gzip.decompressPrefix(stream, count: 4)), [0, 1, 2, 3])
        XCTAssertEqual(try Gzip.decompress(stream, maxSize: 200).count, 200)
        XCTAssertThrowsError(try Gzip.decompress(stream, maxSize: 199))
        XCTAssertThrowsError(try Gzip.inflateRaw(Data([3, 0]), expectedSize: 1 << 40))
    }

    func vocabularyJSON(size: String, maxLen: String) -> String {
        let tokens = [Vocabulary.padToken, Vocabulary.startToken, Vocabulary.endToken, Vocabulary.unkToken, "a"]
        let toId = tokens.enumerated().map { "\"\($1)\": \($0)" }.joined(separator: ", ")
        let toToken = tokens.enumerated().map { "\"\($0)\": \"\($1)\"" }.joined(separator: ", ")
        return "{\"vocab_size\": \(size), \"max_len\": \(maxLen), \"token_to_id\": {\(toId)}, \"id_to_token\": {\(toToken)}}"
    }

    /// vocab_size 10^9 once sized the id table (16 GB) before the tables were counted.
    func testVocabularySizeIsCheckedAgainstItsTablesFirst() throws {
        let dir = try F.tempDirectory(self)
        let path = try F.write(vocabularyJSON(size: "1000000000", maxLen: "5"), "vocab_info.json", in: dir)
        F.assertFileError(try Vocabulary.load(path: path), file: path, contains: "has 5 entries but vocab_size is 1000000000")
    }

    /// max_len 10^9 once sized every padded caption row.
    func testMaxLenBeyondTheCaptionsIsAnError() throws {
        let dir = try F.tempDirectory(self)
        let path = try F.write(vocabularyJSON(size: "5", maxLen: "1000000000"), "vocab_info.json", in: dir)
        let vocabulary = try Vocabulary.load(path: path)
        let train = CaptionsTrain(imageNames: ["1.tif"], captions: [[Vocabulary.startToken, "a", Vocabulary.endToken]])
        F.assertFileError(try train.encoded(with: vocabulary, file: "train.json"), file: "train.json",
                          contains: "max_len 1000000000 of the vocabulary exceeds the 3 tokens")
        XCTAssertEqual(try train.encoded(with: Vocabulary(tokens: vocabulary.idToToken, maxLen: 3)).ids, [1, 4, 2])
    }

    /// HDF5 files the fuzzer made from the h5py fixture that crashed libhdf5 1.10 (a SEGV on
    /// a NULL memcpy, an impossible allocation): refused by the superblock checks first.
    func testCorruptHDF5MetadataIsRefusedBeforeLibhdf5() throws {
        let dir = try TestFiles.tempDirectory()
        let good = [UInt8](try Data(contentsOf: F.fixturesDirectory.appendingPathComponent("h5py_features.hdf5")))
        var inserted = good
        inserted.insert(contentsOf: [UInt8](repeating: 0xFF, count: 21), at: 1000)
        let insertedPath = try TestFiles.write(inserted, dir, "inserted.hdf5")
        F.assertFileError(try HDF5Features.read(path: insertedPath), file: insertedPath,
                          contains: "superblock says the file ends at byte \(good.count), but it has \(good.count + 21) bytes")
        var heap = good
        let at = try XCTUnwrap((0..<(good.count - 4)).first { Array(good[$0..<($0 + 4)]) == Array("HEAP".utf8) })
        heap.replaceSubrange((at + 8)..<(at + 16), with: [UInt8](repeating: 0xFF, count: 8))
        let heapPath = try TestFiles.write(heap, dir, "heap.hdf5")
        F.assertFileError(try HDF5Features.read(path: heapPath), file: heapPath, contains: "name heap declares")
        // A driver information block (superblock bytes 48-55 in version 0) declaring 4 GB.
        var driver = good
        let block = good.count - 16
        driver.replaceSubrange(48..<56, with: (0..<8).map { UInt8(truncatingIfNeeded: block >> (8 * $0)) })
        driver.replaceSubrange((block + 4)..<(block + 8), with: [0xF0, 0xFF, 0xFF, 0xFF])
        let driverPath = try TestFiles.write(driver, dir, "driver.hdf5")
        F.assertFileError(try HDF5Features.read(path: driverPath), file: driverPath,
                          contains: "driver information block at byte \(block) declares 4294967280 bytes")
        // The root group's object header names another heap than its entry: the same checks.
        var stab = good
        let header = Int(good[64]) | Int(good[65]) << 8   // the root entry's object header address (v0: bytes 64-71)
        let message = try XCTUnwrap((header + 16..<(good.count - 24)).first { good[$0] == 0x11 && good[$0 + 1] == 0 })
        stab.replaceSubrange((message + 16)..<(message + 24), with: [UInt8](repeating: 0xFF, count: 8))
        let stabPath = try TestFiles.write(stab, dir, "stab.hdf5")
        F.assertFileError(try HDF5Features.read(path: stabPath), file: stabPath, contains: "name heap at byte 18446744073709551615 lies outside the file")
        for name in ["hdf5-metadata-huge-allocation.hdf5", "hdf5-driver-block-huge-allocation.hdf5", "hdf5-root-stab-undefined-heap.hdf5"] {
            let fuzzed = F.fixturesDirectory.appendingPathComponent("fuzz/\(name)").path
            XCTAssertThrowsError(try HDF5Features.read(path: fuzzed)) { XCTAssertTrue($0 is FileError, "\(name): \($0)") }
        }
        XCTAssertEqual(try HDF5Features.read(path: TestFiles.write(good, dir, "good.hdf5")).count, 3)
    }
}
