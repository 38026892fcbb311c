import GraphIR
import Runtime
import XCTest

final class KernelEmbeddingTests: XCTestCase {
    let data = TestData(seed: 17)

    func testLookupCopiesRows() throws {
        let table = data.floats([7, 5])
        let ids = HostTensor(shape: [2, 3], ints: [0, 6, 3, 3, 1, 0])
        let y = try runOp(.embedding, [ids, table])
        XCTAssertEqual(y.shape, [2, 3, 5])
        let expected = ids.ints.flatMap { id in (0..<5).map { Double(table.floats[Int(id) * 5 + $0]) } }
        assertClose(y, expected, "embedding rows")
    }

    func testGradientScatterAddsRepeatedIds() throws {
        let table = HostTensor(zeros: [6, 4])
        let ids = HostTensor(shape: [5], ints: [2, 0, 2, 5, 2])
        let dy = data.floats([5, 4])
        var expected = [Double](repeating: 0, count: 24)
        for (i, id) in ids.ints.enumerated() { for j in 0..<4 { expected[Int(id) * 4 + j] += Double(dy.floats[i * 4 + j]) } }
        assertClose(try runOp(.embeddingGrad, [dy, ids, table]), expected, shape: [6, 4], "embedding_grad")
    }
}
