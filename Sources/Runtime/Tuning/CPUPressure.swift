import Foundation

/// How much work on this machine waited for a core: Linux's CPU pressure (PSI,
/// `/proc/pressure/cpu`, "some" line), the share of time at least one runnable thread, of any
/// process, had no core to run on. The tuner reads it after a measurement (`Tuner.choose`):
/// variants timed while other work competes for the cores are compared on a different
/// machine than the one later runs get (a split over two threads looks no faster than one
/// thread when the second waits), so such a choice is used but not remembered.
///
/// On a quiet machine the share stays within a few percent, graphc's own threads included
/// (candidate executors measured in turn wait up to about 9%: one's idle worker polls while the
/// next one runs); with as many other busy threads as cores it is 50-100%. The kernel adds to its running total every
/// few milliseconds, so a share is taken over at least `lookback` seconds (`share(from:to:)`),
/// and its ten-second average (which lags a load that began seconds ago) only when no
/// earlier reading exists.
public struct CPUPressure: Equatable, Sendable {
    /// When it was read (seconds on `Tuner.now`'s clock).
    public var at: Double
    /// The share of the last ten seconds (0...1, the kernel's `avg10`).
    public var recentShare: Double
    /// Seconds with some thread waiting since boot (the kernel's `total`, in microseconds).
    public var totalSeconds: Double

    public init(at: Double, recentShare: Double, totalSeconds: Double) {
        self.at = at; self.recentShare = recentShare; self.totalSeconds = totalSeconds
    }

    /// The pressure now; nil where the kernel does not report it (not Linux, or PSI off).
    public static func now() -> CPUPressure? {
        guard let text = try? String(contentsOfFile: "/proc/pressure/cpu", encoding: .utf8) else { return nil }
        return parse(text, at: Tuner.now())
    }

    /// The "some" line of `/proc/pressure/cpu`
    /// (`some avg10=0.52 avg60=0.31 avg300=0.12 total=1234567`); nil without one.
    static func parse(_ text: String, at: Double) -> CPUPressure? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("some ") }) else { return nil }
        var fields: [Substring: Substring] = [:]
        for pair in line.split(separator: " ").dropFirst() {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        guard let avg10 = fields["avg10"].flatMap({ Double($0) }), avg10.isFinite, avg10 >= 0,
              let total = fields["total"].flatMap({ UInt64($0) }) else { return nil }
        return CPUPressure(at: at, recentShare: avg10 / 100, totalSeconds: Double(total) * 1e-6)
    }

    /// The share of time some thread waited between two readings; the ten-second average at
    /// `to` when there is no earlier reading or the two are too close for the total to tell.
    static func share(from: CPUPressure?, to: CPUPressure) -> Double {
        guard let from, to.at - from.at >= windowFloor else { return to.recentShare }
        return max(to.totalSeconds - from.totalSeconds, 0) / (to.at - from.at)
    }

    /// How far back a share is taken from when readings reach that far (`Tuner` keeps them).
    static let lookback = 0.1
    /// The shortest window judged by its own share: the total moves in steps of up to 8 ms
    /// here, so one step in 50 ms is 16%, under `Tuner.busyLimit`.
    static let windowFloor = 0.05
}
