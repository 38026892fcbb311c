import Passes

/// Where a run's messages go. The command line writes the log to stderr, results to stdout and
/// redraws progress in place on a terminal; a program embedding graphc can collect them, or
/// drop them with `SilentReporter`. Progress callbacks default to doing nothing.
public protocol TrainingReporter: AnyObject {
    /// Settings, memory plans, notes, epoch summaries and profiles: the run's log.
    func log(_ line: String)
    /// What the run found: accuracies, BLEU scores, where the results were written.
    func result(_ line: String)
    /// A loop of `total` training steps or items (images) named `label` starts.
    func begin(_ label: String, total: Int)
    /// A training step ended: step `step` of `steps` in `epoch`, over `items` examples, with
    /// `meanLoss` the mean loss of the epoch so far.
    func stepDone(epoch: Int, step: Int, of steps: Int, meanLoss: Double, items: Int)
    /// `done` items of the loop are finished.
    func itemsDone(_ done: Int)
    /// The loop that `begin` started has ended.
    func end()
    /// A graph was compiled (`label` says which: `training`, `inference`, `encoder`...):
    /// `context` holds the pass options it was compiled with and what each pass did.
    func compiled(_ label: String, _ context: PassContext)
}

extension TrainingReporter {
    public func begin(_ label: String, total: Int) {}
    public func stepDone(epoch: Int, step: Int, of steps: Int, meanLoss: Double, items: Int) {}
    public func itemsDone(_ done: Int) {}
    public func end() {}
    public func compiled(_ label: String, _ context: PassContext) {}
}

/// Drops every message.
public final class SilentReporter: TrainingReporter {
    public init() {}
    public func log(_ line: String) {}
    public func result(_ line: String) {}
}

/// Keeps the log and result lines, in order, and the compilations, for a program (or a
/// test) to read.
public final class CollectingReporter: TrainingReporter {
    public private(set) var logLines: [String] = []
    public private(set) var resultLines: [String] = []
    public private(set) var compilations: [(label: String, context: PassContext)] = []
    public init() {}
    public func log(_ line: String) { logLines.append(line) }
    public func result(_ line: String) { resultLines.append(line) }
    public func compiled(_ label: String, _ context: PassContext) { compilations.append((label, context)) }
}
