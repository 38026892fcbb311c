/// numpy's legacy `numpy.random.RandomState`, as far as `permutation` needs it, so that data
/// splits made in Python with `RandomState(seed)` (e.g. sklearn's `train_test_split(...,
/// random_state=42)`) are reproduced exactly.
///
/// For an integer seed numpy seeds its MT19937 with the reference `init_genrand(seed)`, and
/// shuffles from the last element down, drawing each index with a masked rejection sampler.
public struct NumpyRandomState {
    private var mt = [UInt32](repeating: 0, count: 624)
    private var index = 624

    public init(seed: UInt32) {
        mt[0] = seed
        for i in 1..<624 {
            mt[i] = 1_812_433_253 &* (mt[i - 1] ^ (mt[i - 1] >> 30)) &+ UInt32(i)
        }
        index = 624
    }

    /// The next 32-bit output of MT19937 (`genrand_int32`).
    public mutating func nextUInt32() -> UInt32 {
        if index >= 624 { twist() }
        var y = mt[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c_5680
        y ^= (y << 15) & 0xefc6_0000
        y ^= y >> 18
        return y
    }

    private mutating func twist() {
        for i in 0..<624 {
            let y = (mt[i] & 0x8000_0000) | (mt[(i + 1) % 624] & 0x7fff_ffff)
            mt[i] = mt[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908_b0df : 0)
        }
        index = 0
    }

    /// A uniform integer in 0...max, by numpy's legacy `random_interval`: mask to the smallest
    /// all-ones number >= max and reject draws above max.
    public mutating func interval(_ max: UInt64) -> UInt64 {
        if max == 0 { return 0 }
        var mask = max
        mask |= mask >> 1
        mask |= mask >> 2
        mask |= mask >> 4
        mask |= mask >> 8
        mask |= mask >> 16
        mask |= mask >> 32
        if max <= 0xffff_ffff {
            while true {
                let v = UInt64(nextUInt32()) & mask
                if v <= max { return v }
            }
        }
        while true {
            // numpy's 64-bit draw from MT19937: high word first.
            let v = (UInt64(nextUInt32()) << 32 | UInt64(nextUInt32())) & mask
            if v <= max { return v }
        }
    }

    /// `RandomState.permutation(n)`: shuffles 0..<n in place, from the end, like numpy's
    /// legacy `shuffle` on a 1-d array.
    public mutating func permutation(_ n: Int) -> [Int] {
        var a = Array(0..<max(0, n))
        var i = a.count - 1
        while i > 0 {
            let j = Int(interval(UInt64(i)))
            a.swapAt(i, j)
            i -= 1
        }
        return a
    }
}
