import Foundation

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

    /// Replaces the progress line with a permanent one.
    func finishLine(_ text: String) {
        let prefix = isTerminal ? "\r\u{1B}[K" : ""
        FileHandle.standardError.write(Data((prefix + text + "\n").utf8))
    }

    static func clock(_ s: Double) -> String {
        guard s.isFinite else { return "--:--" }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}
