import Foundation
import XCTest
@testable import Datasets

final class NumpyRandomStateTests: XCTestCase {
    static let fixture = "/work/shared/fixtures/fashion_mnist_homework_perm.npy"

    func testMT19937ReferenceOutputs() {
        // The reference mt19937ar.c outputs for init_genrand(5489) (the C++ std::mt19937
        // default seed); the 10000th output is the value the C++ standard specifies.
        var rng = NumpyRandomState(seed: 5489)
        XCTAssertEqual(rng.nextUInt32(), 3_499_211_612)
        XCTAssertEqual(rng.nextUInt32(), 581_869_302)
        XCTAssertEqual(rng.nextUInt32(), 3_890_346_734)
        for _ in 3..<9999 { _ = rng.nextUInt32() }
        XCTAssertEqual(rng.nextUInt32(), 4_123_659_995)
    }

    func testIntervalStaysInRange() {
        var rng = NumpyRandomState(seed: 1)
        for max: UInt64 in [0, 1, 2, 5, 255, 256, 59_999, 1 << 33] {
            for _ in 0..<200 { XCTAssertLessThanOrEqual(rng.interval(max), max) }
        }
    }

    func testPermutationMatchesNumpyFixture() throws {
        guard FileManager.default.fileExists(atPath: Self.fixture) else {
            throw XCTSkip("fixture \(Self.fixture) is not on this machine")
        }
        let expected = try NPYReader.read(path: Self.fixture)
        XCTAssertEqual(expected.shape, [60_000])
        let numpy = try expected.int64s().map { Int($0) }
        let ours = FashionMNIST.homeworkPermutation()
        XCTAssertEqual(ours.count, 60_000)
        let firstDifference = zip(ours, numpy).enumerated().first { $0.element.0 != $0.element.1 }
        XCTAssertNil(firstDifference, "permutation differs from numpy at index \(firstDifference?.offset ?? -1)")
        XCTAssertEqual(ours, numpy)
    }

    func testPermutationIsAPermutation() {
        var rng = NumpyRandomState(seed: 7)
        let p = rng.permutation(1000)
        XCTAssertEqual(p.sorted(), Array(0..<1000))
        XCTAssertNotEqual(p, Array(0..<1000))
        XCTAssertEqual(rng.permutation(0), [])
        XCTAssertEqual(rng.permutation(1), [0])
    }
}
