import Foundation
import XCTest
@testable import Datasets

final class HDF5FeaturesTests: XCTestCase {
    typealias F = CaptioningTestFiles

    func testRoundTripWholeFileAndRows() throws {
        let dir = try F.tempDirectory(self)
        let path = dir.appendingPathComponent("sub/all_features.hdf5").path
        let (count, regions, dim) = (3, 4, 5)
        let values = (0..<(count * regions * dim)).map { Float($0) * 0.25 - 7 }
        try HDF5Features.write(path: path, features: values, count: count, regions: regions, dim: dim)
        let back = try HDF5Features.read(path: path)
        XCTAssertEqual(back.count, 3)
        XCTAssertEqual(back.regions, 4)
        XCTAssertEqual(back.dim, 5)
        XCTAssertEqual(back.features, values)
        XCTAssertEqual(try HDF5Features.readRow(path: path, row: 1), Array(values[20..<40]))
        let reader = try HDF5FeatureReader(path: path)
        XCTAssertEqual(try reader.row(2), Array(values[40..<60]))
        XCTAssertEqual(try reader.row(0), Array(values[0..<20]))
        F.assertFileError(try reader.row(3), file: path, contains: "row 3 is out of range 0..<3")
        F.assertFileError(try reader.row(-1), file: path, contains: "row -1 is out of range")
        // Only the final file remains: the temporary name was renamed away.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("sub").path), ["all_features.hdf5"])

        // Overwriting keeps the file valid and replaces its contents.
        try HDF5Features.write(path: path, features: [1, 2], count: 1, regions: 1, dim: 2)
        XCTAssertEqual(try HDF5Features.read(path: path).features, [1, 2])
    }

    /// Regression for a crash the hdf5 fuzzer found: libhdf5 trusts the contiguous layout
    /// message, and a recorded storage size smaller than the dataspace (or an address past the
    /// end of the file) made H5Dread copy from a null buffer. The reader now refuses both.
    func testLayoutMessageThatDisagreesWithTheShapeIsRefused() throws {
        let dir = try F.tempDirectory(self)
        let path = dir.appendingPathComponent("features.hdf5").path
        let (count, regions, dim) = (2, 3, 4)
        try HDF5Features.write(path: path, features: (0..<24).map(Float.init), count: count, regions: regions, dim: dim)
        let original = try Data(contentsOf: URL(fileURLWithPath: path))

        // Data layout message, version 3, class 1 (contiguous): address (8 bytes), size (8 bytes).
        let size = UInt64(count * regions * dim * 4)
        let bytes = [UInt8](original)
        let sizeBytes = (0..<8).map { UInt8(truncatingIfNeeded: size >> (8 * UInt64($0))) }
        let messages = (0..<(bytes.count - 18)).filter {
            bytes[$0] == 3 && bytes[$0 + 1] == 1 && Array(bytes[($0 + 10)..<($0 + 18)]) == sizeBytes
        }
        XCTAssertEqual(messages.count, 1, "expected one contiguous layout message recording \(size) bytes")
        guard let at = messages.first else { return }

        func patched(_ offset: Int, _ value: UInt64) throws -> String {
            var copy = bytes
            for i in 0..<8 { copy[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
            let out = dir.appendingPathComponent("patched-\(offset)-\(value).hdf5").path
            try Data(copy).write(to: URL(fileURLWithPath: out))
            return out
        }
        let short = try patched(at + 10, 4)
        F.assertFileError(try HDF5FeatureReader(path: short), file: short, contains: "stores 4 bytes, but its shape needs 96")
        let beyond = try patched(at + 2, UInt64(bytes.count))
        F.assertFileError(try HDF5FeatureReader(path: beyond), file: beyond, contains: "past the end of the \(bytes.count)-byte file")
        let unallocated = try patched(at + 2, UInt64.max)
        F.assertFileError(try HDF5FeatureReader(path: unallocated), file: unallocated, contains: "has no data written")
    }

    /// A file written by h5py the way the homework writes all_features.hdf5 (see the script).
    func testReadsAnH5pyWrittenFile() throws {
        let path = F.fixturesDirectory.appendingPathComponent("h5py_features.hdf5").path
        let back = try HDF5Features.read(path: path)
        XCTAssertEqual([back.count, back.regions, back.dim], [3, 4, 5])
        XCTAssertEqual(back.features, (0..<60).map { Float($0) * 0.5 - 3 })
        XCTAssertEqual(try HDF5Features.readRow(path: path, row: 2), (40..<60).map { Float($0) * 0.5 - 3 })
    }

    func testFloat64DatasetIsConverted() throws {
        let dir = try F.tempDirectory(self)
        let path = dir.appendingPathComponent("f64.hdf5").path
        try HDF5Features.writeDataset(path, reportAs: path, name: "features", values: [0.5, -1.5, 3, 4], dims: [1, 2, 2], fileType: .float64)
        XCTAssertEqual(try HDF5Features.read(path: path).features, [0.5, -1.5, 3, 4])
    }

    func testWrongFilesThrowNamingTheFile() throws {
        let dir = try F.tempDirectory(self)
        let rank2 = dir.appendingPathComponent("rank2.hdf5").path
        try HDF5Features.writeDataset(rank2, reportAs: rank2, name: "features", values: [1, 2, 3, 4], dims: [2, 2], fileType: .float32)
        F.assertFileError(try HDF5Features.read(path: rank2), file: rank2, contains: "rank 2, expected 3")

        let ints = dir.appendingPathComponent("ints.hdf5").path
        try HDF5Features.writeDataset(ints, reportAs: ints, name: "features", values: [1, 2], dims: [1, 1, 2], fileType: .int32)
        F.assertFileError(try HDF5Features.read(path: ints), file: ints, contains: "not floating point (it holds integers)")

        let other = dir.appendingPathComponent("other.hdf5").path
        try HDF5Features.writeDataset(other, reportAs: other, name: "feats", values: [1], dims: [1, 1, 1], fileType: .float32)
        F.assertFileError(try HDF5Features.read(path: other), file: other, contains: "has no dataset \"features\"")

        let text = try F.write("not hdf5 at all", "text.hdf5", in: dir)
        F.assertFileError(try HDF5Features.read(path: text), file: text, contains: "not a readable HDF5 file (HDF5: ")

        // A real file cut short: the superblock survives but the data does not.
        let good = dir.appendingPathComponent("good.hdf5").path
        try HDF5Features.write(path: good, features: [Float](repeating: 1, count: 4096), count: 2, regions: 32, dim: 64)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        let cut = dir.appendingPathComponent("cut.hdf5").path
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: cut))
        F.assertFileError(try HDF5Features.read(path: cut), file: cut, contains: "HDF5")

        let missing = dir.appendingPathComponent("missing.hdf5").path
        F.assertFileError(try HDF5Features.read(path: missing), file: missing, contains: "no such file")
        let target = dir.appendingPathComponent("bad.hdf5").path
        F.assertFileError(try HDF5Features.write(path: target, features: [1, 2, 3], count: 1, regions: 2, dim: 2),
                          file: target, contains: "3 values do not fill shape (1, 2, 2)")
    }
}
