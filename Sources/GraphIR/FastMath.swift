// exp, sigmoid and tanh without libm calls or branches, so the loops that apply them
// vectorise: the LSTM decoders spend much of a step in these functions, and libm's scalar
// expf/tanhf cost several nanoseconds each. They are the ops' scalar functions (Ops/Elementwise.swift),
// so kernels, fusion and constant folding all compute the same floats.

/// e^x within 2 ulp for normal results (Cephes' expf polynomial): x = n ln2 + r with
/// |r| <= ln2/2, e^r by a degree-6 polynomial, 2^n built in the exponent bits. Overflow gives
/// +inf, deep underflow 0, NaN stays NaN. n is rounded by adding 1.5 * 2^23 (which leaves
/// the integer in the low mantissa bits) rather than by floor, a library call on baseline
/// x86-64, and read from those bits rather than converted, so nothing can trap.
@inlinable @inline(__always)
public func fastExp(_ x: Float) -> Float {
    let hi: Float = 88.3762626647949, lo: Float = -87.3365447504
    var v = x.isNaN ? 0 : x
    v = v > hi ? hi : (v < lo ? lo : v)
    let shifted = v * 1.44269504088896341 + 12_582_912
    let n = shifted - 12_582_912
    let r = v - n * 0.693359375 + n * 2.12194440e-4
    var p: Float = 1.9875691500e-4
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let y = p * r * r + r + 1
    let k = shifted.bitPattern &- 0x4B40_0000
    let scale = Float(bitPattern: (k &+ 127) << 23)
    var result = y * scale
    result = x > hi ? .infinity : result
    result = x < lo ? 0 : result
    return x.isNaN ? x : result
}

/// 1 / (1 + e^-x), from e^-|x| so nothing overflows.
@inlinable @inline(__always)
public func fastSigmoid(_ x: Float) -> Float {
    let e = fastExp(-abs(x))
    let s = 1 / (1 + e)
    return x >= 0 ? s : e * s
}

/// tanh from e^-2|x|; below |x| = 1/8, where 1 - e^-2|x| would cancel, its odd series.
@inlinable @inline(__always)
public func fastTanh(_ x: Float) -> Float {
    let a = abs(x)
    let e = fastExp(-2 * a)
    let t = (1 - e) / (1 + e)
    let x2 = x * x
    let series = x * (1 + x2 * (-0.333333333 + x2 * (0.133333333 + x2 * -0.053968254)))
    let large = x < 0 ? -t : t
    return a < 0.125 ? series : large
}
