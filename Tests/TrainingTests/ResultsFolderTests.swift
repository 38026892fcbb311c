import Foundation
import GraphIR
import Runtime
import XCTest
@testable import Training

/// Whole-run atomicity: a run writes into a fresh sibling folder swapped in at the end, the
/// previous results stay whole until then (and after any failure), `--out` is locked for the
/// run's life, and what a dead run left is cleaned up. Failures are injected (a file that
/// cannot be replaced, a lock held), never timed.
final class ResultsFolderTests: XCTestCase {
    let fm = FileManager.default

    func folder() throws -> String { try TinyFashionMNIST.temporaryFolder(removedAfter: self) }

    func leftovers(in dir: String, of name: String) throws -> [String] {
        try fm.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".\(name).") }
    }

    func testCommitReplacesTheFolderWholeAndRemovesTheStagingFolderAndLock() throws {
        let dir = try folder()
        let out = dir + "/results"
        try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
        try "old".write(toFile: out + "/metrics.json", atomically: true, encoding: .utf8)
        try "old".write(toFile: out + "/old-config.csv", atomically: true, encoding: .utf8)

        let r = try ResultsFolder(out, carryOver: false)
        XCTAssertTrue(r.staging.hasPrefix(dir + "/.results.partial-"))
        try "new".write(toFile: r.file("metrics.json"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try String(contentsOfFile: out + "/metrics.json", encoding: .utf8), "old", "the previous results stay until the swap")
        try r.commit()
        XCTAssertEqual(try String(contentsOfFile: out + "/metrics.json", encoding: .utf8), "new")
        XCTAssertFalse(fm.fileExists(atPath: out + "/old-config.csv"), "a fresh folder: nothing of the previous run is mixed in")
        XCTAssertTrue(fm.fileExists(atPath: out + "/" + ResultsFolder.marker))
        XCTAssertEqual(try leftovers(in: dir, of: "results"), [], "no staging folder, previous folder or lock left")
    }

    func testCarryOverKeepsThePreviousFilesWithoutTouchingThem() throws {
        let dir = try folder()
        let out = dir + "/q3"
        try fm.createDirectory(atPath: out + "/enc_dec", withIntermediateDirectories: true)
        try "vanilla".write(toFile: out + "/enc_dec/metrics.json", atomically: true, encoding: .utf8)
        try "index".write(toFile: out + "/report.md", atomically: true, encoding: .utf8)
        let r = try ResultsFolder(out)
        XCTAssertEqual(try String(contentsOfFile: r.file("enc_dec/metrics.json"), encoding: .utf8), "vanilla")
        // Files are replaced by rename (AtomicFile), which replaces the hard link only.
        try AtomicFile.write("new index", toPath: r.file("report.md"))
        XCTAssertEqual(try String(contentsOfFile: out + "/report.md", encoding: .utf8), "index")
        try r.commit()
        XCTAssertEqual(try String(contentsOfFile: out + "/report.md", encoding: .utf8), "new index")
        XCTAssertEqual(try String(contentsOfFile: out + "/enc_dec/metrics.json", encoding: .utf8), "vanilla")
    }

    func testASecondRunOnTheFolderIsRefusedWithTheFirstsPID() throws {
        let dir = try folder()
        let first = try ResultsFolder(dir + "/results")
        XCTAssertThrowsError(try ResultsFolder(dir + "/results")) { error in
            XCTAssertTrue("\(error)".contains("in use by another graphc run (process \(getpid()))"), "\(error)")
        }
        XCTAssertTrue(fm.fileExists(atPath: first.staging), "the refused run leaves the first one's folder alone")
        first.discard()
        XCTAssertNoThrow(try ResultsFolder(dir + "/results").discard(), "free again once the first run ends")
    }

    func testAStaleLockAndWhatADeadRunLeftAreTakenOver() throws {
        let dir = try folder()
        let out = dir + "/results"
        try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
        try "old".write(toFile: out + "/metrics.json", atomically: true, encoding: .utf8)
        // A run killed mid-write: its lock file (no flock held any more) and its partial folder.
        let dead: Int32 = 2_000_000_000
        try "\(dead)\n".write(toFile: dir + "/.results.lock", atomically: true, encoding: .utf8)
        try fm.createDirectory(atPath: dir + "/.results.partial-\(dead)", withIntermediateDirectories: true)
        let r = try ResultsFolder(out)
        XCTAssertTrue(r.notes.contains { $0.contains("took over the lock of process \(dead)") }, "\(r.notes)")
        XCTAssertFalse(fm.fileExists(atPath: dir + "/.results.partial-\(dead)"))
        r.discard()
        XCTAssertEqual(try String(contentsOfFile: out + "/metrics.json", encoding: .utf8), "old")
        XCTAssertEqual(try leftovers(in: dir, of: "results"), [])
    }

    func testPreviousResultsSetAsideByADeadSwapAreRestored() throws {
        let dir = try folder()
        // Killed between the two renames of a swap without an atomic exchange.
        try fm.createDirectory(atPath: dir + "/.results.previous-2000000000", withIntermediateDirectories: true)
        try "old".write(toFile: dir + "/.results.previous-2000000000/metrics.json", atomically: true, encoding: .utf8)
        let r = try ResultsFolder(dir + "/results")
        XCTAssertEqual(try String(contentsOfFile: r.file("metrics.json"), encoding: .utf8), "old")
        r.discard()
        XCTAssertEqual(try String(contentsOfFile: dir + "/results/metrics.json", encoding: .utf8), "old")
    }

    func testAFolderOfOtherFilesIsRefusedNotReplaced() throws {
        let dir = try folder()
        try "mine".write(toFile: dir + "/notes.txt", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ResultsFolder(dir)) { error in
            XCTAssertTrue("\(error)".contains("holds files graphc did not write (notes.txt)"), "\(error)")
        }
        XCTAssertTrue(fm.fileExists(atPath: dir + "/notes.txt"))
    }

    /// A training run that fails while writing its results (a full disk, injected as a file
    /// size limit the way `ulimit -f` sets one: metrics.json fits, the plots and checkpoint do
    /// not) leaves the previous results whole and no temporary folder: not a new metrics.json
    /// beside an old checkpoint.
    func testATrainingRunThatFailsWhileWritingLeavesThePreviousResultsWhole() throws {
        let dir = try folder()
        let npz = try TinyFashionMNIST.write(in: dir, train: 8, dev: 4, test: 4)
        let model = dir + "/tiny.swiftgraph"
        try NumericsCheckTests.model(line4: "let shifted = image").write(toFile: model, atomically: true, encoding: .utf8)
        let out = dir + "/results"
        try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
        try "old".write(toFile: out + "/metrics.json", atomically: true, encoding: .utf8)
        try "old".write(toFile: out + "/best.safetensors", atomically: true, encoding: .utf8)

        signal(SIGXFSZ, SIG_IGN)
        var saved = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved)
        var small = saved
        small.rlim_cur = 4096
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &small)
        XCTAssertThrowsError(try TrainingJob.run(file: model, overrides: RecipeOverrides(threads: 1),
                                                 options: TrainingOptions(out: out, data: npz))) { error in
            XCTAssertTrue("\(error)".contains("File too large"), "\(error)")
        }
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved)
        XCTAssertEqual(try String(contentsOfFile: out + "/metrics.json", encoding: .utf8), "old")
        XCTAssertEqual(try String(contentsOfFile: out + "/best.safetensors", encoding: .utf8), "old")
        XCTAssertEqual(try leftovers(in: dir, of: "results"), [], "no staging folder or lock left")
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: out).sorted(), ["best.safetensors", "metrics.json"])

        // The same run with room to write replaces both.
        try TrainingJob.run(file: model, overrides: RecipeOverrides(threads: 1), options: TrainingOptions(out: out, data: npz))
        XCTAssertNotEqual(try String(contentsOfFile: out + "/metrics.json", encoding: .utf8), "old")
        XCTAssertGreaterThan(try fm.attributesOfItem(atPath: out + "/best.safetensors")[.size] as? Int ?? 0, 1000)
    }
}
