import Foundation

/// BLEU exactly as nltk's `sentence_bleu` / `corpus_bleu` compute it with no smoothing (the
/// homework's metric): clipped n-gram precisions summed over the corpus, brevity penalty from the
/// reference length closest to each hypothesis (ties to the shorter), and nltk's "method0" rule
/// that a zero precision contributes log(DBL_MIN) instead of -infinity, so a short hypothesis
/// gets a tiny positive score rather than 0. Only a corpus with no unigram match scores exactly 0.
public enum BLEU {
    public static let defaultWeights: [Double] = [0.25, 0.25, 0.25, 0.25]

    public struct LengthMismatch: Error, CustomStringConvertible {
        public var references: Int
        public var hypotheses: Int
        public var description: String {
            "BLEU: \(references) reference sets for \(hypotheses) hypotheses; they must pair up"
        }
    }

    /// nltk `sentence_bleu(references, hypothesis, weights)`.
    public static func sentence(references: [[String]], hypothesis: [String],
                                weights: [Double] = defaultWeights) -> Double {
        score(pairs: [(references, hypothesis)], weights: weights)
    }

    /// nltk `corpus_bleu(list_of_references, hypotheses, weights)`: statistics are pooled over
    /// all pairs before the precisions are formed (not an average of sentence scores).
    public static func corpus(references: [[[String]]], hypotheses: [[String]],
                              weights: [Double] = defaultWeights) throws -> Double {
        guard references.count == hypotheses.count else {
            throw LengthMismatch(references: references.count, hypotheses: hypotheses.count)
        }
        return score(pairs: Array(zip(references, hypotheses)), weights: weights)
    }

    /// The homework's figure: the mean of sentence BLEU over images (0 for no images).
    public static func meanSentence(references: [[[String]]], hypotheses: [[String]],
                                    weights: [Double] = defaultWeights) throws -> Double {
        guard references.count == hypotheses.count else {
            throw LengthMismatch(references: references.count, hypotheses: hypotheses.count)
        }
        guard !hypotheses.isEmpty else { return 0 }
        var total = 0.0
        for (refs, hyp) in zip(references, hypotheses) {
            total += sentence(references: refs, hypothesis: hyp, weights: weights)
        }
        return total / Double(hypotheses.count)
    }

    private static func score(pairs: [([[String]], [String])], weights: [Double]) -> Double {
        let orders = weights.count
        var numerators = [Int](repeating: 0, count: orders)
        var denominators = [Int](repeating: 0, count: orders)
        var hypLength = 0
        var refLength = 0
        for (refs, hyp) in pairs {
            for n in 0..<orders {
                let (num, den) = clippedPrecision(references: refs, hypothesis: hyp, order: n + 1)
                numerators[n] += num
                denominators[n] += den
            }
            hypLength += hyp.count
            refLength += closestReferenceLength(references: refs, hypothesisLength: hyp.count)
        }
        // No matching unigram means no matching n-gram of any order: nltk returns 0 outright.
        if orders == 0 || numerators[0] == 0 { return 0 }
        let penalty = brevityPenalty(referenceLength: refLength, hypothesisLength: hypLength)
        var terms: [Double] = []
        terms.reserveCapacity(orders)
        for n in 0..<orders {
            let precision = numerators[n] == 0
                ? Double.leastNormalMagnitude
                : Double(numerators[n]) / Double(denominators[n])
            terms.append(weights[n] * log(precision))
        }
        return penalty * exp(ExactSum.sum(terms))
    }

    /// Hypothesis n-grams clipped by their largest count in any one reference, and the number of
    /// hypothesis n-grams (at least 1, as nltk keeps the denominator non-zero).
    static func clippedPrecision(references: [[String]], hypothesis: [String], order n: Int) -> (Int, Int) {
        let counts = ngramCounts(hypothesis, order: n)
        var maxRef: [ArraySlice<String>: Int] = [:]
        for ref in references {
            let refCounts = ngramCounts(ref, order: n)
            for gram in counts.keys {
                if let c = refCounts[gram], c > maxRef[gram, default: 0] { maxRef[gram] = c }
            }
        }
        var clipped = 0
        var total = 0
        for (gram, c) in counts {
            clipped += min(c, maxRef[gram, default: 0])
            total += c
        }
        return (clipped, max(1, total))
    }

    static func ngramCounts(_ tokens: [String], order n: Int) -> [ArraySlice<String>: Int] {
        var counts: [ArraySlice<String>: Int] = [:]
        guard n >= 1, tokens.count >= n else { return counts }
        for start in 0...(tokens.count - n) {
            counts[tokens[start..<(start + n)], default: 0] += 1
        }
        return counts
    }

    /// The reference length nearest the hypothesis length; on a tie the shorter one.
    static func closestReferenceLength(references: [[String]], hypothesisLength: Int) -> Int {
        var best: Int? = nil
        for ref in references {
            let len = ref.count
            guard let b = best else { best = len; continue }
            let d = abs(len - hypothesisLength), bd = abs(b - hypothesisLength)
            if d < bd || (d == bd && len < b) { best = len }
        }
        return best ?? 0
    }

    static func brevityPenalty(referenceLength r: Int, hypothesisLength c: Int) -> Double {
        if c > r { return 1 }
        if c == 0 { return 0 }
        return exp(1 - Double(r) / Double(c))
    }
}

/// Correctly rounded floating-point summation (the result Python's `math.fsum` gives), so the
/// log-precision sum rounds exactly as nltk's does. Keeps a list of non-overlapping partial
/// sums whose exact total is the true sum, then rounds that total once.
enum ExactSum {
    static func sum(_ values: [Double]) -> Double {
        var partials: [Double] = []
        for v in values {
            guard v.isFinite else { return values.reduce(0, +) }
            var x = v
            var kept = 0
            for p in partials {
                var y = p
                if abs(x) < abs(y) { swap(&x, &y) }
                let hi = x + y
                let lo = y - (hi - x)  // exact error of hi, valid as |x| >= |y|
                if lo != 0 { partials[kept] = lo; kept += 1 }
                x = hi
            }
            partials.removeSubrange(kept...)
            partials.append(x)
        }
        guard var total = partials.popLast() else { return 0 }
        // Add partials from the largest down; stop once the remainder can no longer change the
        // rounding, but fix a result that sits exactly halfway between two doubles.
        var lo = 0.0
        while let y = partials.popLast() {
            let x = total
            total = x + y
            let yr = total - x
            lo = y - yr
            if lo != 0 {
                if let next = partials.last, (lo < 0) == (next < 0) {
                    let doubled = lo * 2
                    let bumped = total + doubled
                    if doubled == bumped - total { total = bumped }
                }
                break
            }
        }
        return total
    }
}
