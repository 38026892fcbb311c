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
        var (s0, s1, s2, s3) = s
        for i in 0..<max(count, 0) {
            let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
            let t = s1 << 17
            s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
            s2 ^= t
            s3 = (s3 << 45) | (s3 >> 19)
            out[i] = Float(result >> 40) * (1.0 / 16_777_216.0)
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
