import Datasets
import Foundation
import XCTest

/// Every reader reads regular files only: a FIFO would block it forever and a device never
/// ends, so both are refused by name before anything is opened.
final class RegularFileTests: XCTestCase {
    func testReadersRefuseFIFOsAndDevices() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("regular-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let fifo = dir.appendingPathComponent("1.tif").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let readers: [(String, (String) throws -> Void)] = [
            ("IDX", { _ = try IDXReader.read(path: $0) }),
            ("TIFF", { _ = try TiffImage.readRGB(path: $0) }),
            ("HDF5", { _ = try HDF5Features.read(path: $0) }),
            ("npy", { _ = try NPYReader.read(path: $0) }),
            ("npz", { _ = try NPZArchive(path: $0) }),
            (".pth", { _ = try TorchCheckpoint.load(path: $0) }),
            ("vocabulary JSON", { _ = try Vocabulary.load(path: $0) }),
        ]
        for (name, read) in readers {
            for (path, what) in [(fifo, "is a FIFO (named pipe), not a regular file"), ("/dev/zero", "is a device, not a regular file")] {
                XCTAssertThrowsError(try read(path), name) { error in
                    XCTAssertEqual("\(error)", "\(path): \(what)", name)
                }
            }
        }
    }
}
