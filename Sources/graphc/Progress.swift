import Foundation
import Passes
import Training

/// graphc's reporter: the log on stderr, results on stdout, and progress redrawn in place
/// on a terminal (a step line for training, a bar for images); with `passStatistics`
/// (`--pass-stats`), what each pass did in each compilation, on stderr as `--dump-ir` does.
final class ConsoleReporter: TrainingReporter {
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private let passStatistics: Bool
    private var steps: Progress?
    private var items: ProgressBar?

    init(passStatistics: Bool = false) { self.passStatistics = passStatistics }

    func log(_ line: String) {
        // On a terminal the line replaces a progress line drawn in place.
        FileHandle.standardError.write(Data(((isTerminal ? "\r\u{1B}[K" : "") + line + "\n").utf8))
    }

    func result(_ line: String) { print(line) }

    func begin(_ label: String, total: Int) {
        steps = Progress(total: total, label: label)
        items = ProgressBar(total: total, label: label)
    }

    func stepDone(epoch: Int, step: Int, of count: Int, meanLoss: Double, items n: Int) {
        steps?.update(epoch: epoch, step: step, steps: count, loss: meanLoss, images: n)
    }

    func itemsDone(_ done: Int) { items?.update(done: done) }

    func compiled(_ label: String, _ context: PassContext) {
        if passStatistics { log(DumpIR.statisticsText(context, label: label)) }
    }

    func end() {
        if items?.drawn == true { items?.finish() }
        steps = nil
        items = nil
    }
}

/// The live progress line: epoch, step, running loss, images/s and ETA, redrawn in place on
/// a terminal at most five times a second (and only at epoch ends when stderr is a file).
final class Progress {
    let total: Int
    let label: String
    private var done = 0
    private var images = 0
    private let start = Date()
    private var lastDraw = Date.distantPast
    private let isTerminal = isatty(STDERR_FILENO) != 0

    init(total: Int, label: String) { self.total = total; self.label = label }

    func update(epoch: Int, step: Int, steps: Int, loss: Double, images n: Int) {
        done += 1
        images += n
        guard isTerminal else { return }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) > 0.2 || step == steps else { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(start)
        let rate = Double(images) / max(elapsed, 1e-9)
        let eta = elapsed / Double(done) * Double(total - done)
        let line = String(format: "\r%@ epoch %d  step %d/%d  loss %.4f  %.0f images/s  ETA %@   ",
                          label, epoch, step, steps, loss, rate, Progress.clock(eta))
        FileHandle.standardError.write(Data(line.utf8))
    }

    static func clock(_ s: Double) -> String {
        guard s.isFinite else { return "--:--" }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}

/// A one-line bar for work counted in items (images), redrawn in place on a terminal.
final class ProgressBar {
    let total: Int
    let label: String
    private let start = Date()
    private var lastDraw = Date.distantPast
    /// Whether anything was drawn (a training loop draws no bar).
    private(set) var drawn = false
    private let isTerminal = isatty(STDERR_FILENO) != 0

    init(total: Int, label: String) { self.total = total; self.label = label }

    /// On a terminal the bar is redrawn at most five times a second; into a file (a log) a
    /// line is written at every tenth of the work instead.
    func update(done: Int) {
        let now = Date()
        if isTerminal {
            guard now.timeIntervalSince(lastDraw) > 0.2 || done == total else { return }
        } else {
            guard total > 0, done * 10 / total != (done - 1) * 10 / total else { return }
        }
        lastDraw = now
        drawn = true
        let elapsed = now.timeIntervalSince(start)
        let width = 30
        let filled = total > 0 ? width * min(done, total) / total : width
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : .infinity
        let line = String(format: "%@%@ [%@] %d/%d  %.2f s/image  ETA %@%@", isTerminal ? "\r" : "", label, bar, done, total,
                          elapsed / Double(max(done, 1)), Progress.clock(eta), isTerminal ? "   " : "\n")
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
