import Foundation
import XCTest

/// `mpirun -np 2 graphc ... --train` as a user runs it: the built binary under Open MPI's
/// launcher. Skipped (with the reason) where mpirun is not installed or Fashion-MNIST is not.
final class DataParallelCLITests: XCTestCase {
    static let fashionMNIST = "/usr/share/datasets/fashion-mnist"

    func mpirun() throws -> String {
        for dir in ["/usr/bin", "/usr/local/bin"] where FileManager.default.isExecutableFile(atPath: dir + "/mpirun") { return dir + "/mpirun" }
        throw XCTSkip("mpirun is not installed (scripts/install-deps.sh installs Debian's openmpi-bin): the 2-rank tests need it")
    }

    func requireData() throws {
        guard FileManager.default.fileExists(atPath: Self.fashionMNIST + "/train-images-idx3-ubyte.gz") else {
            throw XCTSkip("Fashion-MNIST not installed in \(Self.fashionMNIST)")
        }
    }

    /// Runs `mpirun -np N graphc ARGS` (or an MPMD line when `apps` has several argument lists)
    /// from the repository root, ended by `timeout` after `limit` seconds so a hang fails the
    /// test instead of stalling the suite.
    func launch(_ apps: [(ranks: Int, arguments: [String])], environment: [String: String] = [:], limit: Int = 300) throws -> CLI.Result {
        var arguments = ["--kill-after=10", "\(limit)", try mpirun(), "--allow-run-as-root", "--oversubscribe"]
        for (i, app) in apps.enumerated() {
            if i > 0 { arguments.append(":") }
            arguments += ["-np", "\(app.ranks)", CLI.binary.path] + app.arguments
        }
        let result = try CLI.launch(URL(fileURLWithPath: "/usr/bin/timeout"), arguments, environment: environment)
        XCTAssertNotEqual(result.status, 124, "mpirun did not finish within \(limit) s:\n\(result.stdout)\n\(result.stderr)")
        return result
    }

    /// 400 training images at batch 8: 50 steps of one epoch, dropout off (masks are drawn per rank).
    func trainArguments(out: String, losses: String) -> [String] {
        ["graphs/cnn.swiftgraph", "--train", "--limit", "400", "--epochs", "1", "--dropout", "0", "--threads", "1",
         "--out", out, "--step-losses", losses]
    }

    func losses(_ path: String) throws -> [Double] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { line in
            line.split(separator: " ").last.flatMap { Double($0) }
        }
    }

    func devAccuracy(_ stdout: String) -> Double? {
        stdout.split(separator: "\n").first { $0.contains("final dev accuracy") }
            .flatMap { $0.components(separatedBy: "final dev accuracy ").last?.prefix(6) }.flatMap { Double($0) }
    }

    func testTwoRanksReproduceOneRanksLossesAndDevAccuracy() throws {
        _ = try mpirun()
        try requireData()
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let one = try CLI.run(trainArguments(out: dir.appendingPathComponent("one").path, losses: dir.appendingPathComponent("one.txt").path))
        XCTAssertEqual(one.status, 0, one.stderr)
        let two = try launch([(2, trainArguments(out: dir.appendingPathComponent("two").path, losses: dir.appendingPathComponent("two.txt").path))])
        XCTAssertEqual(two.status, 0, two.stdout + two.stderr)

        let a = try losses(dir.appendingPathComponent("one.txt").path), b = try losses(dir.appendingPathComponent("two.txt").path)
        XCTAssertEqual(a.count, 50)
        XCTAssertEqual(b.count, a.count, "one line per step, written by rank 0 alone")
        for (s, (x, y)) in zip(a, b).enumerated() {
            XCTAssertEqual(y, x, accuracy: 1e-5 * abs(x), "step \(s + 1): 1 rank \(x), 2 ranks \(y)")
        }
        let accuracy1 = try XCTUnwrap(devAccuracy(one.stdout), one.stdout), accuracy2 = try XCTUnwrap(devAccuracy(two.stdout), two.stdout)
        XCTAssertEqual(accuracy2, accuracy1, accuracy: 0.002)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("two/metrics.json").path), "rank 0 wrote the results")
        XCTAssertEqual(two.stdout.components(separatedBy: "results written to").count - 1, 1, "one rank reports: \(two.stdout)")
    }

    /// Rank 1 kills itself (SIGKILL, the test hook) before step 5: the job ends, naming it.
    func testAKilledRankStopsTheJobWithAnErrorNamingIt() throws {
        _ = try mpirun()
        try requireData()
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try launch([(2, trainArguments(out: dir.path, losses: dir.appendingPathComponent("l.txt").path))],
                           environment: ["GRAPHC_TEST_KILL_RANK": "1:5"], limit: 120)
        XCTAssertNotEqual(r.status, 0)
        let text = r.stdout + r.stderr
        XCTAssertTrue(text.contains("process rank 1") && text.contains("signal 9"), text)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("metrics.json").path))
    }

    func testRanksStartedWithDifferentFlagsAreRefusedSayingWhatDiffers() throws {
        _ = try mpirun()
        try requireData()
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = ["graphs/cnn.swiftgraph", "--train", "--limit", "16", "--epochs", "1", "--out", dir.path]
        let r = try launch([(1, base), (1, base + ["--lr", "0.1"])], limit: 120)
        XCTAssertNotEqual(r.status, 0)
        let text = r.stdout + r.stderr
        XCTAssertTrue(text.contains("the ranks were started differently") && text.contains("the command line differs"), text)
        XCTAssertTrue(text.contains("rank 1 has") && text.contains("--lr 0.1"), text)
    }

    func testAGlobalBatchTheRanksCannotSplitIsRefusedWithTheNumbers() throws {
        _ = try mpirun()
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try launch([(2, ["graphs/cnn.swiftgraph", "--train", "--batch-size", "7", "--limit", "16", "--out", dir.path])], limit: 120)
        XCTAssertNotEqual(r.status, 0)
        let text = r.stdout + r.stderr
        XCTAssertTrue(text.contains("the global batch 7 cannot be split evenly over 2 ranks") && text.contains("--batch-size 6 or 8"), text)
    }
}
