import Foundation
import XCTest

/// A graph dumped part way through the compile pipeline, or after all of it, given back to
/// the commands as a .gir file: each works on it as on the model it came from.
final class DumpedGraphCLITests: XCTestCase {
    func testDumpsAfterAutodiffFusionAndTheWholePipelineCountCompileAndTrain() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("tiny.npz")
        try Data(TinyFashionMNIST.npz()).write(to: data)
        let full = try CLI.run(["graphs/cnn.swiftgraph", "--dump-ir"])
        XCTAssertEqual(full.status, 0, full.stderr)
        for stage in ["autodiff", "fusion", "memory-plan"] {
            let dump = try CLI.run(["graphs/cnn.swiftgraph", "--dump-ir", "--after", stage])
            XCTAssertEqual(dump.status, 0, "\(stage): \(dump.stderr)")
            let gir = dir.appendingPathComponent("cnn.\(stage).gir")
            try dump.stdout.write(to: gir, atomically: true, encoding: .utf8)

            let count = try CLI.run([gir.path, "--count-params"])
            XCTAssertEqual(count.status, 0, "\(stage): \(count.stderr)")
            XCTAssertTrue(count.stdout.contains("Total params: 769,930"), "\(stage): \(count.stdout)")

            let again = try CLI.run([gir.path, "--dump-ir", "--verify-each", "--pass-stats"])
            XCTAssertEqual(again.status, 0, "\(stage): \(again.stderr)")
            XCTAssertEqual(again.stdout, full.stdout, "\(stage): compiling the rest of the way gives what compiling the model does")
            XCTAssertTrue(again.stderr.contains("skipped: already differentiated 1"), "\(stage): \(again.stderr)")

            let out = dir.appendingPathComponent("results-\(stage)")
            let train = try CLI.run([gir.path, "--train", "--epochs", "1", "--batch-size", "2", "--data", data.path, "--out", out.path])
            XCTAssertEqual(train.status, 0, "\(stage): \(train.stderr)")
            XCTAssertTrue(train.stdout.contains("test accuracy"), "\(stage): \(train.stdout)")
        }
    }

    func testAGraphWithPartOfItsGradientsIsALocatedError() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let dump = try CLI.run(["graphs/cnn.swiftgraph", "--dump-ir", "--after", "autodiff"])
        XCTAssertEqual(dump.status, 0, dump.stderr)
        let lines = dump.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let edited = lines.filter { !$0.contains("output \"grad:convblock1.0.bias\"") }.joined(separator: "\n")
        XCTAssertNotEqual(edited.count, dump.stdout.count, "the dump has the gradient output to remove")
        let gir = dir.appendingPathComponent("partial.gir")
        try edited.write(to: gir, atomically: true, encoding: .utf8)
        let r = try CLI.run([gir.path, "--dump-ir"])
        XCTAssertNotEqual(r.status, 0)
        for part in ["graphs/cnn.swiftgraph:", "error: autodiff: param", "none for this trainable parameter"] {
            XCTAssertTrue(r.stderr.contains(part), "\(part) in \(r.stderr)")
        }
    }
}

/// A Fashion-MNIST npz shaped like the homework's (Xtrain (N,1,28,28) float64, ytrain int64,
/// and the same for dev and test), with a handful of images: enough to run every step of
/// training and evaluation in moments.
enum TinyFashionMNIST {
    static func npz() -> [UInt8] {
        var members: [(String, [UInt8])] = []
        for (split, n) in [("train", 6), ("dev", 2), ("test", 2)] {
            let pixels = (0..<(n * 784)).map { Double(($0 * 7 + n) % 256) / 256 }
            let labels = (0..<n).map { Int64(($0 + n) % 10) }
            members.append(("X\(split).npy", npy("<f8", [n, 1, 28, 28], pixels.withUnsafeBytes { Array($0) })))
            members.append(("y\(split).npy", npy("<i8", [n], labels.withUnsafeBytes { Array($0) })))
        }
        return zip(members)
    }

    static func npy(_ descr: String, _ shape: [Int], _ data: [UInt8]) -> [UInt8] {
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        return [0x93] + Array("NUMPY".utf8) + [1, 0] + le16(header.utf8.count) + Array(header.utf8) + data
    }

    /// A zip archive of stored (uncompressed) members.
    static func zip(_ members: [(name: String, content: [UInt8])]) -> [UInt8] {
        var out: [UInt8] = [], central: [UInt8] = []
        for m in members {
            let offset = out.count, name = Array(m.name.utf8), crc = crc32(m.content), size = le32(UInt32(m.content.count))
            out += le32(0x04034b50) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0x21) + le32(crc) + size + size
            out += le16(name.count) + le16(0) + name + m.content
            central += le32(0x02014b50) + le16(20) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0x21) + le32(crc) + size + size
            central += le16(name.count) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0) + le32(UInt32(offset)) + name
        }
        let directory = out.count
        out += central
        out += le32(0x06054b50) + le16(0) + le16(0) + le16(members.count) + le16(members.count)
        out += le32(UInt32(central.count)) + le32(UInt32(directory)) + le16(0)
        return out
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
        }
        return ~c
    }

    static func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff)] }
    static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(v >> (8 * UInt32($0)) & 0xff) } }
}
