import GraphIR

// Convolution and pooling over [N, C, H, W] images.

extension ONNXOps {
    static let windows: [ONNXOpConverter] = [conv, maxPool, globalAveragePool, globalMaxPool]

    /// The symmetric 2-D padding [top/bottom, left/right] an ONNX window op asks for, from
    /// `pads` [t, l, b, r] or `auto_pad` (SAME_UPPER / SAME_LOWER computed for a known input
    /// size; graphc pads both sides alike, so an odd total is refused).
    static func padding(_ c: ONNXNodeContext, input: Value, kernel: [Int], strides: [Int], dilations: [Int]) throws -> [Int] {
        let autoPad = c.string("auto_pad", default: "NOTSET")
        switch autoPad {
        case "NOTSET", "":
            let pads = c.ints("pads") ?? [0, 0, 0, 0]
            guard pads.count == 4 else { throw c.fail("pads \(pads) must have 4 entries for a 2-D window") }
            guard pads[0] == pads[2], pads[1] == pads[3] else {
                throw c.fail("asymmetric pads \(pads) are not supported (graphc pads both sides of an axis alike)")
            }
            guard pads.allSatisfy({ $0 >= 0 }) else { throw c.fail("pads \(pads) must not be negative") }
            return [pads[0], pads[1]]
        case "VALID":
            return [0, 0]
        case "SAME_UPPER", "SAME_LOWER":
            var out: [Int] = []
            for axis in 0..<2 {
                let size = try c.knownSize(input, axis + 2, "spatial")
                let outSize = (size + strides[axis] - 1) / strides[axis]
                let total = max(0, (outSize - 1) * strides[axis] + (kernel[axis] - 1) * dilations[axis] + 1 - size)
                guard total % 2 == 0 else {
                    throw c.fail("auto_pad \(autoPad) pads axis \(axis + 2) by \(total), an odd total graphc cannot split evenly")
                }
                out.append(total / 2)
            }
            return out
        default:
            throw c.fail("auto_pad \"\(autoPad)\" is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
        }
    }

    static func pair(_ c: ONNXNodeContext, _ key: String, default d: Int) throws -> [Int] {
        let v = c.ints(key) ?? [d, d]
        guard v.count == 2 else { throw c.fail("\(key) \(v) must have 2 entries (graphc's windows are 2-D)") }
        guard v.allSatisfy({ $0 >= 1 }) else { throw c.fail("\(key) \(v) must be positive") }
        return v
    }

    static let conv = ONNXOpConverter("Conv") { c in
        let x = try c.tensor(0), w = try c.tensor(1)
        guard c.type(x).rank == 4, c.type(w).rank == 4 else {
            throw c.fail("only 2-D convolutions ([N, C, H, W] inputs) are supported, got \(c.type(x)) and weight \(c.type(w))")
        }
        try c.require("group", 1, "grouped convolutions are not supported yet")
        let strides = try pair(c, "strides", default: 1)
        let dilations = try pair(c, "dilations", default: 1)
        guard dilations == [1, 1] else { throw c.fail("dilations \(dilations) are not supported yet") }
        let kernel = [try c.knownSize(w, 2, "kernel"), try c.knownSize(w, 3, "kernel")]
        if let k = c.ints("kernel_shape"), k != kernel { throw c.fail("kernel_shape \(k) differs from the weight's \(kernel)") }
        let pads = try padding(c, input: x, kernel: kernel, strides: strides, dilations: dilations)
        var ins = [x, w]
        if c.has(2) { ins.append(try c.tensor(2)) }
        return [.graph(try c.emit(.conv2d, ins, ["stride": .ints(strides), "padding": .ints(pads)]))]
    }

    static let maxPool = ONNXOpConverter("MaxPool") { c in
        let x = try c.tensor(0)
        guard c.type(x).rank == 4 else { throw c.fail("only 2-D pooling ([N, C, H, W] inputs) is supported, got \(c.type(x))") }
        guard let kernel = c.ints("kernel_shape"), kernel.count == 2, kernel.allSatisfy({ $0 >= 1 }) else {
            throw c.fail("kernel_shape must give 2 positive sizes")
        }
        try c.require("ceil_mode", 0, "ceil_mode is not supported yet")
        try c.require("storage_order", 0, "only row-major indices")
        let dilations = try pair(c, "dilations", default: 1)
        guard dilations == [1, 1] else { throw c.fail("dilations \(dilations) are not supported yet") }
        let strides = try pair(c, "strides", default: 1)
        let pads = try padding(c, input: x, kernel: kernel, strides: strides, dilations: dilations)
        return [.graph(try c.emit(.maxpool2d, [x], ["kernel": .ints(kernel), "stride": .ints(strides), "padding": .ints(pads)]))]
    }

    /// The mean of each channel over its spatial axes, kept as [N, C, 1, 1].
    static let globalAveragePool = ONNXOpConverter("GlobalAveragePool") { c in
        let x = try c.tensor(0)
        let rank = c.type(x).rank
        guard rank >= 3 else { throw c.fail("needs an input [N, C, spatial...], got \(c.type(x))") }
        return [.graph(try c.emit(.mean, [x], ["axes": .ints(Array(2..<rank)), "keepdims": .bool(true)]))]
    }

    /// The largest value of each channel, as a max pool over the whole (known) image.
    static let globalMaxPool = ONNXOpConverter("GlobalMaxPool") { c in
        let x = try c.tensor(0)
        guard c.type(x).rank == 4 else { throw c.fail("only [N, C, H, W] inputs are supported, got \(c.type(x))") }
        let kernel = [try c.knownSize(x, 2, "height"), try c.knownSize(x, 3, "width")]
        return [.graph(try c.emit(.maxpool2d, [x], ["kernel": .ints(kernel), "stride": .ints(kernel), "padding": .ints([0, 0])]))]
    }
}
