import Foundation

/// Axis ticks at "nice" numbers (1, 2, 2.5 or 5 times a power of ten), as matplotlib
/// chooses them.
public enum NiceTicks {
    /// The nice step that puts at most `maxTicks` ticks (and as many as possible) in lo...hi.
    public static func step(lo: Double, hi: Double, maxTicks: Int = 8) -> Double {
        let span = hi - lo
        // A range wider than the largest Double (e.g. -1e308...1e308): the same nice step,
        // found a decade down.
        if span == .infinity, lo.isFinite, hi.isFinite { return 10 * step(lo: lo / 10, hi: hi / 10, maxTicks: maxTicks) }
        guard span > 0, span.isFinite, maxTicks >= 2 else { return 1 }
        let raw = span / Double(maxTicks - 1)
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        // matplotlib's default MaxNLocator steps.
        for m in [1.0, 2.0, 2.5, 5.0, 10.0] where m * magnitude >= raw * (1 - 1e-12) {
            return m * magnitude
        }
        return 10 * magnitude
    }

    /// Tick positions: the multiples of `step` inside lo...hi (with a little tolerance).
    public static func ticks(lo: Double, hi: Double, maxTicks: Int = 8) -> [Double] {
        guard lo.isFinite, hi.isFinite, hi > lo else { return lo.isFinite ? [lo] : [] }
        let s = step(lo: lo, hi: hi, maxTicks: maxTicks)
        let eps = s * 1e-9
        // Bounds as multiples of the step, so that ranges near the largest Double do not overflow.
        let first = (lo / s - 1e-9).rounded(.up), last = (hi / s + 1e-9).rounded(.down)
        var out: [Double] = []
        var k = first
        while k <= last, out.count <= maxTicks * 2 {
            // Snap to the decimal grid so 0.1 * 3 prints as 0.3.
            let v = k * s
            out.append(abs(v) < eps ? 0 : v)
            k += 1
        }
        return out
    }

    /// Labels with just enough decimals for `step` (0.25 -> 2, 0.1 -> 1, 5 -> 0).
    public static func label(_ value: Double, step: Double) -> String {
        var decimals = 0
        if step > 0, step.isFinite {
            var s = step
            while decimals < 10, abs(s - s.rounded()) > 1e-9 * max(1, abs(s)) {
                s *= 10
                decimals += 1
            }
        }
        let magnitude = abs(value)
        if magnitude >= 1e6 || (magnitude > 0 && magnitude < 1e-4 && decimals > 6) {
            return String(format: "%.2g", value)
        }
        let text = String(format: "%.\(decimals)f", value)
        return text == "-0" || text.hasPrefix("-0.") && Double(text) == 0 ? String(text.dropFirst()) : text
    }
}
