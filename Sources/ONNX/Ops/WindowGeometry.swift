import GraphIR

// The attributes ONNX's window ops share, over any number of spatial axes, and the lifting of
// a window to more axes: graphc's window ops are 2-D (and 3-D for pooling), so a 1-D window
// runs as a 2-D one over [N, C, 1, W], and a 2-D average with dilations as a 3-D one.

/// An ONNX window over `axes` spatial axes: kernel, strides, dilations and the zero padding
/// before and after each axis.
struct ONNXWindow: Equatable {
    var kernel: [Int], strides: [Int], dilations: [Int], padBegin: [Int], padEnd: [Int]

    var axes: Int { kernel.count }
    /// Padding in ONNX's `pads` order (every begin, then every end), as graphc's `padding` takes it.
    var pads: [Int] { padBegin + padEnd }
    var isDilated: Bool { dilations.contains { $0 != 1 } }

    /// The same window with `n` leading unit axes (kernel 1, stride 1, no padding): it gives
    /// the same output along them as the inputs' size-1 axes.
    func lifted(by n: Int) -> ONNXWindow {
        let ones = [Int](repeating: 1, count: n), zeros = [Int](repeating: 0, count: n)
        return ONNXWindow(kernel: ones + kernel, strides: ones + strides, dilations: ones + dilations,
                          padBegin: zeros + padBegin, padEnd: zeros + padEnd)
    }

    /// stride, padding and (when not all 1) dilation, as graphc's window ops take them.
    var attributes: Attributes {
        var a: Attributes = ["stride": .ints(strides), "padding": .ints(pads)]
        if isDilated { a["dilation"] = .ints(dilations) }
        return a
    }
}

extension ONNXOps {
    /// Spatial axes of x [N, C, spatial...], refused outside `supported`.
    static func spatialAxes(_ c: ONNXNodeContext, _ x: Value, _ supported: ClosedRange<Int>) throws -> Int {
        let axes = c.type(x).rank - 2
        guard supported.contains(axes) else {
            let what = supported.lowerBound == supported.upperBound ? "\(supported.lowerBound)" : "\(supported.lowerBound) to \(supported.upperBound)"
            throw c.fail("graphc runs windows over \(what) spatial axes ([N, C, spatial...] inputs), got \(c.type(x))")
        }
        return axes
    }

    /// An attribute of one positive value per spatial axis.
    static func perAxis(_ c: ONNXNodeContext, _ key: String, axes: Int, default d: Int) throws -> [Int] {
        let v = try c.sizes(key) ?? [Int](repeating: d, count: axes)
        guard v.count == axes else { throw c.fail("\(key) \(v) must have \(axes) entries, one per spatial axis") }
        guard v.allSatisfy({ $0 >= 1 }) else { throw c.fail("\(key) \(v) must be positive") }
        return v
    }

    /// The window of a Conv or pooling node over x's spatial axes, its padding from `pads` or
    /// `auto_pad` (SAME_UPPER puts the odd extra at the end, SAME_LOWER at the start).
    static func window(_ c: ONNXNodeContext, input x: Value, kernel: [Int]) throws -> ONNXWindow {
        let axes = kernel.count
        let strides = try perAxis(c, "strides", axes: axes, default: 1), dilations = try perAxis(c, "dilations", axes: axes, default: 1)
        let zeros = [Int](repeating: 0, count: axes)
        var w = ONNXWindow(kernel: kernel, strides: strides, dilations: dilations, padBegin: zeros, padEnd: zeros)
        let autoPad = c.string("auto_pad", default: "NOTSET")
        switch autoPad {
        case "NOTSET", "":
            let pads = try c.sizes("pads") ?? zeros + zeros
            guard pads.count == 2 * axes else { throw c.fail("pads \(pads) must have \(2 * axes) entries (begins, then ends)") }
            guard pads.allSatisfy({ $0 >= 0 }) else { throw c.fail("pads \(pads) must not be negative") }
            w.padBegin = Array(pads[..<axes]); w.padEnd = Array(pads[axes...])
        case "VALID":
            break
        case "SAME_UPPER", "SAME_LOWER":
            for axis in 0..<axes {
                let size = try c.knownSize(x, axis + 2, "spatial")
                let what = "the SAME padding of spatial axis \(axis)"
                let outSize = try c.checkedSum(size, strides[axis], -1, what: what) / strides[axis]
                let total = max(0, try c.checkedSum(try c.checkedProduct(outSize - 1, strides[axis], what: what),
                                                    try c.checkedProduct(kernel[axis] - 1, dilations[axis], what: what), 1, -size, what: what))
                let small = total / 2
                w.padBegin[axis] = autoPad == "SAME_UPPER" ? small : total - small
                w.padEnd[axis] = autoPad == "SAME_UPPER" ? total - small : small
            }
        default:
            throw c.fail("auto_pad \"\(autoPad)\" is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
        }
        return w
    }

    /// v [A, B, spatial...] with `n` size-1 axes inserted after B.
    static func liftSpatial(_ c: ONNXNodeContext, _ v: Value, by n: Int) throws -> Value {
        guard n > 0 else { return v }
        let dims = c.type(v).shape.dims
        return try c.emit(.reshape, [v], ["shape": .shape(Shape(Array(dims[..<2]) + [Dim](repeating: .known(1), count: n) + Array(dims[2...])))])
    }

    /// The inverse of `liftSpatial`: drops the `n` size-1 axes after axis 1.
    static func dropSpatial(_ c: ONNXNodeContext, _ v: Value, by n: Int) throws -> Value {
        guard n > 0 else { return v }
        let dims = c.type(v).shape.dims
        return try c.emit(.reshape, [v], ["shape": .shape(Shape(Array(dims[..<2]) + Array(dims[(2 + n)...])))])
    }
}
