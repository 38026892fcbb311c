import XCTest
@testable import Reports

final class NiceTicksTests: XCTestCase {
    func testStepsAreOneTwoFiveTimesPowersOfTen() {
        XCTAssertEqual(NiceTicks.ticks(lo: 0, hi: 1, maxTicks: 8), [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0])
        XCTAssertEqual(NiceTicks.ticks(lo: 0.3, hi: 15.7, maxTicks: 9), [2, 4, 6, 8, 10, 12, 14])
        XCTAssertEqual(NiceTicks.step(lo: 0.85, hi: 0.92, maxTicks: 8), 0.01, accuracy: 1e-15)
        XCTAssertEqual(NiceTicks.step(lo: -300, hi: 1200, maxTicks: 8), 250)
        XCTAssertEqual(NiceTicks.ticks(lo: -0.7, hi: 0.7, maxTicks: 8).count, 7)
        XCTAssertTrue(NiceTicks.ticks(lo: -0.7, hi: 0.7, maxTicks: 8).contains(0))
    }

    func testDegenerateRanges() {
        XCTAssertEqual(NiceTicks.ticks(lo: 3, hi: 3), [3])
        XCTAssertEqual(NiceTicks.ticks(lo: .nan, hi: 1), [])
        XCTAssertEqual(NiceTicks.step(lo: 1, hi: 1), 1)
        let huge = NiceTicks.ticks(lo: -.greatestFiniteMagnitude, hi: .greatestFiniteMagnitude, maxTicks: 8)
        XCTAssertEqual(huge, [-1e308, 0, 1e308], "a span beyond the largest Double still gets nice ticks")
    }

    func testLabelsUseTheStepsDecimals() {
        XCTAssertEqual(NiceTicks.label(0.6000000000000001, step: 0.2), "0.6")
        XCTAssertEqual(NiceTicks.label(0.75, step: 0.25), "0.75")
        XCTAssertEqual(NiceTicks.label(12, step: 2), "12")
        XCTAssertEqual(NiceTicks.label(-1e-17, step: 0.1), "0.0")
        XCTAssertEqual(NiceTicks.label(0.905, step: 0.005), "0.905")
        XCTAssertEqual(NiceTicks.label(2_500_000, step: 500_000), "2.5e+06")
    }
}
