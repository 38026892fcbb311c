import Foundation
import XCTest
@testable import Training

/// Feature rows are sized by the largest image number: `100000.tif` once allocated 52 GB and
/// `9223372036854775807.tif` trapped on overflow, in a folder of one image.
final class ImageNumberLimitTests: XCTestCase {
    func folder(_ names: [String]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-image-numbers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        for name in names { try Data("not read".utf8).write(to: dir.appendingPathComponent(name)) }
        return dir.path
    }

    func testImageNumbersFarBeyondTheImagesPresentAreRefused() throws {
        for name in ["100000.tif", "9223372036854775807.tif"] {
            let dir = try folder(["1.tif", name])
            XCTAssertThrowsError(try FeatureExtraction.imageList(directory: dir)) { error in
                XCTAssertTrue("\(error)".contains("\(name): image number \(name.dropLast(4)) but the folder has only 2 images"), "\(error)")
            }
        }
    }

    func testGapsUpToTheImageCountAreRowsOfZeros() throws {
        let list = try FeatureExtraction.imageList(directory: try folder(["1.tif", "4.tif"]))
        XCTAssertEqual(list.rows, 4)
        XCTAssertEqual(list.images.map(\.row), [0, 3])
    }
}
