/// A small, fast, seedable generator (xoshiro256**, seeded through splitmix64) so a run is
/// the same run after run for a given seed.
public final class RandomSource {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    @inline(__always)
    public func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 24 bits, like a float32 generator.
    @inline(__always)
    public func nextFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// `count` draws of `nextFloat`, in order, with the state kept in locals for the loop (a
    /// call per element from another module cannot be inlined and reloads the state each time).
    public func fillUniform(_ out: UnsafeMutablePointer<Float>, count: Int) {
        draw(count) { i, bits in out[i] = Float(bits) * (1.0 / 16_777_216.0) }
    }

    /// `count` draws of `nextFloat`, in order, each written as `value` where the draw is at
    /// least `p` and as +0 where it is below (an inverted-dropout mask). A draw is its 24 bits u
    /// over 2^24, so it is at least p exactly when u >= ceil(p * 2^24) (both sides scaled by a
    /// power of two, exactly): the draws are kept as integers, no float is made from them.
    public func fillMask(_ out: UnsafeMutablePointer<Float>, count: Int, keepingFrom p: Float, value: Float) {
        let n = max(count, 0), scaled = (Double(p) * 16_777_216).rounded(.up)
        // p NaN: no draw is >= p; above the draws' range: none kept; at most 0: all kept.
        let threshold = UInt32(scaled.isNaN || scaled > 16_777_216 ? 16_777_216 : scaled <= 0 ? 0 : scaled)
        let bits = value.bitPattern
        // The 24 bits stored first (the generator's loop bounds the time: it makes no float),
        // then the threshold as a select over the buffer (no branch to mispredict).
        out.withMemoryRebound(to: UInt32.self, capacity: n) { u in
            draw(n) { i, draw in u[i] = UInt32(truncatingIfNeeded: draw) }
            for i in 0..<n { u[i] = bits & (0 &- UInt32(unsafeBitCast(u[i] >= threshold, to: UInt8.self))) }
        }
    }

    /// `count` steps of `next`, giving `body` each step's index and its top 24 bits, with the
    /// state in locals for the loop.
    @inline(__always)
    private func draw(_ count: Int, _ body: (Int, UInt64) -> Void) {
        var (s0, s1, s2, s3) = s
        for i in 0..<max(count, 0) {
            let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
            let t = s1 << 17
            s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
            s2 ^= t
            s3 = (s3 << 45) | (s3 >> 19)
            body(i, result >> 40)
        }
        s = (s0, s1, s2, s3)
    }

    /// Uniform integer in 0..<n (n > 0), without modulo bias worth noticing for n << 2^64.
    @inline(__always)
    public func nextInt(below n: Int) -> Int { Int(next() % UInt64(n)) }

    /// Standard normal via Box-Muller.
    public func nextNormal() -> Float {
        let u1 = max(Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0), 1e-300)
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return Float((-2 * _log(u1)).squareRoot() * _cos(2 * .pi * u2))
    }
}

@inline(__always) func _log(_ x: Double) -> Double { Foundation_log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Foundation_cos(x) }
