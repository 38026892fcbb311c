import GraphIR

// Convolution and pooling over [N, C, H, W] images.

extension ONNXOps {
    static let windows: [ONNXOpConverter] = [conv, convTranspose, maxPool, averagePool, globalAveragePool, globalMaxPool, lrn]

    /// The 2-D zero padding [top, left, bottom, right] an ONNX window op asks for, from `pads`
    /// or `auto_pad` (SAME_UPPER puts the odd extra at the end, SAME_LOWER at the start).
    static func padding(_ c: ONNXNodeContext, input: Value, kernel: [Int], strides: [Int], dilations: [Int]) throws -> [Int] {
        let autoPad = c.string("auto_pad", default: "NOTSET")
        switch autoPad {
        case "NOTSET", "":
            let pads = c.ints("pads") ?? [0, 0, 0, 0]
            guard pads.count == 4 else { throw c.fail("pads \(pads) must have 4 entries for a 2-D window") }
            guard pads.allSatisfy({ $0 >= 0 }) else { throw c.fail("pads \(pads) must not be negative") }
            return pads
        case "VALID":
            return [0, 0, 0, 0]
        case "SAME_UPPER", "SAME_LOWER":
            var begin: [Int] = [], end: [Int] = []
            for axis in 0..<2 {
                let size = try c.knownSize(input, axis + 2, "spatial")
                let outSize = (size + strides[axis] - 1) / strides[axis]
                let total = max(0, (outSize - 1) * strides[axis] + (kernel[axis] - 1) * dilations[axis] + 1 - size)
                let small = total / 2
                begin.append(autoPad == "SAME_UPPER" ? small : total - small)
                end.append(autoPad == "SAME_UPPER" ? total - small : small)
            }
            return begin + end
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

    static func requireImages(_ c: ONNXNodeContext, _ x: Value) throws {
        guard c.type(x).rank == 4 else { throw c.fail("only 2-D windows ([N, C, H, W] inputs) are supported, got \(c.type(x))") }
    }

    /// Conv with groups, dilations, pads or auto_pad; 2-D only.
    static let conv = ONNXOpConverter("Conv") { c in
        let x = try c.tensor(0), w = try c.tensor(1)
        try requireImages(c, x)
        guard c.type(w).rank == 4 else { throw c.fail("the weight must be [O, C/group, kh, kw], got \(c.type(w))") }
        let strides = try pair(c, "strides", default: 1), dilations = try pair(c, "dilations", default: 1)
        let kernel = [try c.knownSize(w, 2, "kernel"), try c.knownSize(w, 3, "kernel")]
        if let k = c.ints("kernel_shape"), k != kernel { throw c.fail("kernel_shape \(k) differs from the weight's \(kernel)") }
        let group = c.int("group", default: 1)
        guard group >= 1 else { throw c.fail("group \(group) must be positive") }
        var attributes: Attributes = ["stride": .ints(strides), "padding": .ints(try padding(c, input: x, kernel: kernel, strides: strides, dilations: dilations))]
        if dilations != [1, 1] { attributes["dilation"] = .ints(dilations) }
        if group != 1 { attributes["groups"] = .int(group) }
        var ins = [x, w]
        if c.has(2) { ins.append(try c.tensor(2)) }
        return [.graph(try c.emit(.conv2d, ins, attributes))]
    }

    /// ConvTranspose with explicit pads (output_shape, which asks graphc to compute them, is refused).
    static let convTranspose = ONNXOpConverter("ConvTranspose") { c in
        let x = try c.tensor(0), w = try c.tensor(1)
        try requireImages(c, x)
        guard c.attribute("output_shape") == nil else { throw c.fail("output_shape is not supported (give pads and output_padding)") }
        let autoPad = c.string("auto_pad", default: "NOTSET")
        guard autoPad == "NOTSET" || autoPad == "VALID" || autoPad.isEmpty else { throw c.fail("auto_pad \(autoPad) is not supported (NOTSET or VALID)") }
        let strides = try pair(c, "strides", default: 1), dilations = try pair(c, "dilations", default: 1)
        let pads = autoPad == "VALID" ? [0, 0, 0, 0] : (c.ints("pads") ?? [0, 0, 0, 0])
        guard pads.count == 4, pads.allSatisfy({ $0 >= 0 }) else { throw c.fail("pads \(pads) must be 4 non-negative entries") }
        var attributes: Attributes = ["stride": .ints(strides), "padding": .ints(pads)]
        if dilations != [1, 1] { attributes["dilation"] = .ints(dilations) }
        let group = c.int("group", default: 1)
        if group != 1 { attributes["groups"] = .int(group) }
        if let op = c.ints("output_padding"), op != [0, 0] { attributes["output_padding"] = .ints(op) }
        var ins = [x, w]
        if c.has(2) { ins.append(try c.tensor(2)) }
        return [.graph(try c.emit(.convTranspose2d, ins, attributes))]
    }

    /// The window attributes MaxPool and AveragePool share.
    static func pooling(_ c: ONNXNodeContext, _ x: Value, dilations: [Int]) throws -> Attributes {
        try requireImages(c, x)
        guard let kernel = c.ints("kernel_shape"), kernel.count == 2, kernel.allSatisfy({ $0 >= 1 }) else {
            throw c.fail("kernel_shape must give 2 positive sizes")
        }
        let strides = try pair(c, "strides", default: 1)
        var a: Attributes = ["kernel": .ints(kernel), "stride": .ints(strides),
                             "padding": .ints(try padding(c, input: x, kernel: kernel, strides: strides, dilations: dilations))]
        if c.int("ceil_mode", default: 0) != 0 { a["ceil_mode"] = .bool(true) }
        return a
    }

    static let maxPool = ONNXOpConverter("MaxPool") { c in
        let x = try c.tensor(0)
        try c.require("storage_order", 0, "only row-major indices")
        let dilations = try pair(c, "dilations", default: 1)
        var a = try pooling(c, x, dilations: dilations)
        if dilations != [1, 1] { a["dilation"] = .ints(dilations) }
        return [.graph(try c.emit(.maxpool2d, [x], a))]
    }

    static let averagePool = ONNXOpConverter("AveragePool") { c in
        let x = try c.tensor(0)
        let dilations = try pair(c, "dilations", default: 1)
        guard dilations == [1, 1] else { throw c.fail("dilations \(dilations) are not supported") }
        var a = try pooling(c, x, dilations: dilations)
        if c.int("count_include_pad", default: 0) != 0 { a["count_include_pad"] = .bool(true) }
        return [.graph(try c.emit(.avgpool2d, [x], a))]
    }

    /// The mean of each channel over its spatial axes, kept as [N, C, 1, ...].
    static let globalAveragePool = ONNXOpConverter("GlobalAveragePool") { c in
        let x = try c.tensor(0)
        let rank = c.type(x).rank
        guard rank >= 3 else { throw c.fail("needs an input [N, C, spatial...], got \(c.type(x))") }
        return [.graph(try c.emit(.mean, [x], ["axes": .ints(Array(2..<rank)), "keepdims": .bool(true)]))]
    }

    static let globalMaxPool = ONNXOpConverter("GlobalMaxPool") { c in
        let x = try c.tensor(0)
        let rank = c.type(x).rank
        guard rank >= 3 else { throw c.fail("needs an input [N, C, spatial...], got \(c.type(x))") }
        return [.graph(try c.emit(.reduceMax, [x], ["axes": .ints(Array(2..<rank)), "keepdims": .bool(true)]))]
    }

    /// Local response normalization across channels.
    static let lrn = ONNXOpConverter("LRN") { c in
        guard let size = c.int("size"), size >= 1 else { throw c.fail("attribute size is required and must be positive") }
        let a: Attributes = ["size": .int(size), "alpha": .float(c.float("alpha", default: 1e-4)),
                             "beta": .float(c.float("beta", default: 0.75)), "bias": .float(c.float("bias", default: 1))]
        return [.graph(try c.emit(.lrn, [try c.tensor(0)], a))]
    }
}
