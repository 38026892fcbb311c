import Runtime
@testable import Training
import XCTest

/// `--profile`'s list of kernel choices: each choice point's winner, how it was chosen, the
/// candidates' median times and a challenger's confirmation against the default.
final class ProfileChoiceLinesTests: XCTestCase {
    let machine = MachineIdentity(cpuModel: "Test CPU @ 1.00GHz", cores: 2, blasCore: "Haswell", kernelISA: "AVX2+FMA")

    func testAConfirmedOrRejectedChallengerShowsItsRatio() {
        let tuner = Tuner(mode: .fast, machine: machine)
        let faster = TuningKey(point: "split", shapes: [[8, 512]], threads: 2)
        let chance = TuningKey(point: "split", shapes: [[16, 512]], threads: 2)
        XCTAssertEqual(tuner.choose(faster, variants: ["rows", "columns"]) { $0 == "columns" ? 0.5e-3 : 1e-3 }, "columns")
        // Runs of seconds: the least rounds, so the first 8 runs are the first rounds.
        var call = 0
        XCTAssertEqual(tuner.choose(chance, variants: ["rows", "columns"]) { name in
            defer { call += 1 }
            return name == "columns" && call < 2 * (1 + Tuner.fastRepeats) ? 0.5 : 1
        }, "rows")
        let lines = ProfileReport.choiceLines(tuner)
        let fasterLine = lines.first { $0.contains(faster.description) } ?? ""
        let chanceLine = lines.first { $0.contains(chance.description) } ?? ""
        XCTAssertTrue(fasterLine.contains("-> columns (measured): rows 1.000 ms, columns 0.500 ms"), fasterLine)
        XCTAssertTrue(fasterLine.contains("timed again against the default, columns took 0.50x its time"), fasterLine)
        XCTAssertTrue(chanceLine.contains("-> rows (measured): rows 1000.000 ms, columns 500.000 ms"), chanceLine)
        XCTAssertTrue(chanceLine.contains("timed again against the default, columns took 1.00x its time"), chanceLine)
    }
}
