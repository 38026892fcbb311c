import Foundation
import Runtime
import XCTest

/// A checkpoint must be a regular file: `/dev/zero` would be read forever.
final class SafeTensorsRegularFileTests: XCTestCase {
    func testADeviceIsRefusedByName() {
        XCTAssertThrowsError(try SafeTensors.read(path: "/dev/zero")) {
            XCTAssertEqual("\($0)", "/dev/zero: is a device, not a regular file")
        }
    }
}
