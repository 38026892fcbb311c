import GraphIR

// Convolution and pooling over [N, C, spatial...] (see WindowGeometry.swift for the shared
// attributes and the lifting of 1-D windows to 2-D ones).

extension ONNXOps {
    static let windows: [ONNXOpConverter] = [conv, convTranspose, maxPool, averagePool, globalAveragePool, globalMaxPool, lrn]

    /// The known sizes of w's kernel axes (after [O, C] or [C, O]), checked against kernel_shape.
    static func kernelSizes(_ c: ONNXNodeContext, weight w: Value, axes: Int, _ layout: String) throws -> [Int] {
        guard c.type(w).rank == axes + 2 else {
            throw c.fail("the weight must be \(layout) with \(axes) kernel sizes, got \(c.type(w))")
        }
        let kernel = try (0..<axes).map { try c.knownSize(w, $0 + 2, "kernel") }
        if let k = try c.sizes("kernel_shape"), k != kernel { throw c.fail("kernel_shape \(k) differs from the weight's \(kernel)") }
        return kernel
    }

    static func groups(_ c: ONNXNodeContext) throws -> Int {
        let group = c.int("group", default: 1)
        guard group >= 1 else { throw c.fail("group \(group) must be positive") }
        return group
    }

    /// Conv with groups, dilations, pads or auto_pad over 1 or 2 spatial axes (1-D as 2-D over
    /// [N, C, 1, W]).
    static let conv = ONNXOpConverter("Conv") { c in
        let x = try c.tensor(0), w = try c.tensor(1)
        let axes = try spatialAxes(c, x, 1...2), lift = 2 - axes
        let kernel = try kernelSizes(c, weight: w, axes: axes, "[O, C/group, kernel...]")
        var attributes = try window(c, input: x, kernel: kernel).lifted(by: lift).attributes
        let group = try groups(c)
        if group != 1 { attributes["groups"] = .int(group) }
        var ins = [try liftSpatial(c, x, by: lift), try liftSpatial(c, w, by: lift)]
        if c.has(2) { ins.append(try c.tensor(2)) }
        return [.graph(try dropSpatial(c, try c.emit(.conv2d, ins, attributes), by: lift))]
    }

    /// ConvTranspose over 1 to 3 spatial axes (1-D as 2-D over [N, C, 1, W], 3-D as 2-D ones
    /// per kernel depth), with pads, or pads computed from output_shape or
    /// auto_pad SAME_UPPER / SAME_LOWER as ONNX defines them: total_padding = stride * (in - 1)
    /// + output_padding + (k - 1) * dilation + 1 - out (out = in * stride without output_shape),
    /// split with the odd extra at the end for SAME_UPPER and at the start otherwise. A negative
    /// end padding (an output_shape one longer than the window reaches) becomes output padding.
    static let convTranspose = ONNXOpConverter("ConvTranspose") { c in
        let x = try c.tensor(0), w = try c.tensor(1)
        let axes = try spatialAxes(c, x, 1...3), lift = max(0, 2 - axes)
        let kernel = try kernelSizes(c, weight: w, axes: axes, "[C, O/group, kernel...]")
        let strides = try perAxis(c, "strides", axes: axes, default: 1), dilations = try perAxis(c, "dilations", axes: axes, default: 1)
        let zeros = [Int](repeating: 0, count: axes)
        var outputPadding = try c.sizes("output_padding") ?? zeros
        guard outputPadding.count == axes, outputPadding.allSatisfy({ $0 >= 0 }) else {
            throw c.fail("output_padding \(outputPadding) must be \(axes) non-negative entries")
        }
        var begin = zeros, end = zeros
        let autoPad = c.string("auto_pad", default: "NOTSET")
        guard ["NOTSET", "", "VALID", "SAME_UPPER", "SAME_LOWER"].contains(autoPad) else {
            throw c.fail("auto_pad \"\(autoPad)\" is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
        }
        let outputShape = try c.sizes("output_shape")
        if outputShape != nil || autoPad.hasPrefix("SAME") {
            var target: [Int] = []
            if let o = outputShape {
                guard o.count == axes || o.count == axes + 2 else {
                    throw c.fail("output_shape \(o) must give \(axes) spatial sizes (or the whole [N, C, spatial...] shape)")
                }
                target = Array(o.suffix(axes))
            } else {
                target = try (0..<axes).map { try c.checkedProduct(try c.knownSize(x, $0 + 2, "spatial"), strides[$0], what: "the output size of spatial axis \($0)") }
            }
            for axis in 0..<axes {
                let size = try c.knownSize(x, axis + 2, "spatial")
                let what = "the padding of spatial axis \(axis)"
                let total = try c.checkedSum(try c.checkedProduct(strides[axis], size - 1, what: what), outputPadding[axis],
                                             try c.checkedProduct(kernel[axis] - 1, dilations[axis], what: what), 1, -target[axis], what: what)
                let half = total >= 0 ? total / 2 : -((1 - total) / 2)  // floor(total / 2)
                begin[axis] = autoPad == "SAME_UPPER" ? half : total - half
                end[axis] = total - begin[axis]
                if end[axis] < 0 { outputPadding[axis] -= end[axis]; end[axis] = 0 }
                guard begin[axis] >= 0 else {
                    throw c.fail("output size \(target[axis]) on spatial axis \(axis) would need output before the first input's window (padding \(begin[axis]))")
                }
            }
        } else if autoPad != "VALID" {
            let pads = try c.sizes("pads") ?? zeros + zeros
            guard pads.count == 2 * axes, pads.allSatisfy({ $0 >= 0 }) else {
                throw c.fail("pads \(pads) must be \(2 * axes) non-negative entries (begins, then ends)")
            }
            begin = Array(pads[..<axes]); end = Array(pads[axes...])
        }
        let window = ONNXWindow(kernel: kernel, strides: strides, dilations: dilations, padBegin: begin, padEnd: end)
        let group = try groups(c)
        let bias = c.has(2) ? try c.tensor(2) : nil
        if axes == 3 {
            return [.graph(try convTranspose3d(c, x, w, bias, window, outputPadding: outputPadding, group: group))]
        }
        var attributes = window.lifted(by: lift).attributes
        if group != 1 { attributes["groups"] = .int(group) }
        if outputPadding != zeros { attributes["output_padding"] = .ints([Int](repeating: 0, count: lift) + outputPadding) }
        let ins = [try liftSpatial(c, x, by: lift), try liftSpatial(c, w, by: lift)] + (bias.map { [$0] } ?? [])
        return [.graph(try dropSpatial(c, try c.emit(.convTranspose2d, ins, attributes), by: lift))]
    }

    /// The most kernel depths a 3-D ConvTranspose unrolls to (a few ops each).
    static let maxUnrolledKernelDepth = 1 << 12

    /// A 3-D ConvTranspose as 2-D ones over (H, W), one per kernel depth kd, each over the
    /// depth slices of x as a batch [N*D, C, H, W]: input slice d adds its result at output
    /// depth d*stride + kd*dilation - padBegin. The placing is data movement (pad to interleave
    /// the stride, pad to shift), so the gradient comes from those ops' rules.
    static func convTranspose3d(_ c: ONNXNodeContext, _ x: Value, _ w: Value, _ bias: Value?, _ window: ONNXWindow,
                                outputPadding: [Int], group: Int) throws -> Value {
        let n = try c.knownSize(x, 0, "batch"), depth = try c.knownSize(x, 2, "depth")
        // Each kernel depth unrolls to a few ops: bound the graph it makes.
        guard window.kernel[0] <= maxUnrolledKernelDepth else {
            throw c.fail("kernel depth \(window.kernel[0]) is more than the \(maxUnrolledKernelDepth) graphc unrolls a 3-D ConvTranspose over")
        }
        let dims = c.type(x).shape.dims
        let (stride, dilation) = (window.strides[0], window.dilations[0])
        // x [N, C, D, H, W] -> [N*D, C, H, W].
        let slices = try c.emit(.reshape, [try c.emit(.transpose, [x], ["perm": .ints([0, 2, 1, 3, 4])])],
                                ["shape": .shape(Shape([.known(try c.checkedProduct(n, depth, what: "the batch of depth slices")), dims[1], dims[3], dims[4]]))])
        var planar: Attributes = ["stride": .ints(Array(window.strides[1...])),
                                  "padding": .ints(Array(window.padBegin[1...]) + Array(window.padEnd[1...]))]
        if window.dilations[1...].contains(where: { $0 != 1 }) { planar["dilation"] = .ints(Array(window.dilations[1...])) }
        if group != 1 { planar["groups"] = .int(group) }
        if outputPadding[1...].contains(where: { $0 != 0 }) { planar["output_padding"] = .ints(Array(outputPadding[1...])) }
        // Output depth before cropping the padding.
        let what = "the output depth"
        let strided = try c.checkedProduct(depth, stride, what: what)
        let full = try c.checkedSum(strided - stride, try c.checkedProduct(window.kernel[0] - 1, dilation, what: what), 1, outputPadding[0], what: what)
        var sum: Value?
        var plane: [Dim] = []
        for kd in 0..<window.kernel[0] {
            let wk = try c.emit(.select, [w], ["axis": .int(2), "index": .int(kd)])
            let z = try c.emit(.convTranspose2d, [slices, wk], planar)  // [N*D, O, H', W']
            plane = Array(c.type(z).shape.dims[1...])
            let m = try c.checkedProduct(of: plane.compactMap(\.value), what: "the output plane")
            // [N, D, 1, M] padded to [N, D, stride, M]: depth d lands at d*stride of [N, D*stride, M].
            var placed = try c.emit(.reshape, [z], ["shape": .shape(Shape(known: [n, depth, 1, m]))])
            if stride > 1 { placed = try c.emit(.pad, [placed], ["pads": .ints([0, 0, 0, 0, 0, 0, stride - 1, 0])]) }
            placed = try c.emit(.reshape, [placed], ["shape": .shape(Shape(known: [n, strided, m]))])
            // Shifted by kd*dilation, cut or filled to the full depth.
            let shift = kd * dilation
            placed = try c.emit(.pad, [placed], ["pads": .ints([0, shift, 0, 0, full - shift - strided, 0])])
            sum = try sum.map { try c.emit(.add, [$0, placed]) } ?? placed
        }
        guard let total = sum else { throw c.fail("the kernel has no depth") }
        // Crop the depth padding, then back to [N, O, D', H', W'].
        let cropped = try c.emit(.pad, [total], ["pads": .ints([0, -window.padBegin[0], 0, 0, -window.padEnd[0], 0])])
        let outDepth = c.type(cropped).shape[1]
        let y = try c.emit(.transpose, [try c.emit(.reshape, [cropped], ["shape": .shape(Shape([.known(n), outDepth] + plane))])],
                           ["perm": .ints([0, 2, 1, 3, 4])])
        guard let bias else { return y }
        let channels = try c.knownSize(y, 1, "channel")
        return try c.emit(.add, [y, try c.emit(.reshape, [bias], ["shape": .shape(Shape(known: [channels, 1, 1, 1]))])])
    }

    /// x lifted by `lift` spatial axes, and the attributes MaxPool and AveragePool share for
    /// graphc's pooling op over the lifted axes.
    static func pooling(_ c: ONNXNodeContext, _ x: Value, axes: Int, lift: Int) throws -> (Value, Attributes) {
        guard let kernel = try c.sizes("kernel_shape"), kernel.count == axes, kernel.allSatisfy({ $0 >= 1 }) else {
            throw c.fail("kernel_shape must give \(axes) positive sizes, one per spatial axis")
        }
        let lifted = try window(c, input: x, kernel: kernel).lifted(by: lift)
        var a = lifted.attributes
        a["kernel"] = .ints(lifted.kernel)
        if c.int("ceil_mode", default: 0) != 0 { a["ceil_mode"] = .bool(true) }
        return (try liftSpatial(c, x, by: lift), a)
    }

    /// MaxPool over 1 to 3 spatial axes (1-D as 2-D over [N, C, 1, W]), and its optional
    /// second output, the flat positions of the maxima (`maxpool_indices`; storage_order=1
    /// numbers each image column-major).
    static let maxPool = ONNXOpConverter("MaxPool") { c in
        let x = try c.tensor(0)
        let axes = try spatialAxes(c, x, 1...3), lift = axes == 3 ? 0 : 2 - axes
        let storageOrder = c.int("storage_order", default: 0)
        guard storageOrder == 0 || storageOrder == 1 else { throw c.fail("storage_order \(storageOrder) must be 0 (row-major) or 1 (column-major)") }
        let (lifted, a) = try pooling(c, x, axes: axes, lift: lift)
        var results: [ONNXValue] = [.graph(try dropSpatial(c, try c.emit(axes == 3 ? .maxpool3d : .maxpool2d, [lifted], a), by: lift))]
        if c.node.output.count > 1, !c.node.output[1].isEmpty {
            var indices = a
            if storageOrder == 1 { indices["column_major"] = .bool(true) }
            results.append(.graph(try dropSpatial(c, try c.emit(.maxpoolIndices, [lifted], indices), by: lift)))
        }
        return results
    }

    /// AveragePool over 1 to 3 spatial axes: 1-D as 2-D over [N, C, 1, W], and a dilated
    /// window (which avgpool2d lacks) as avgpool3d over a depth-1 volume.
    static let averagePool = ONNXOpConverter("AveragePool") { c in
        let x = try c.tensor(0)
        let axes = try spatialAxes(c, x, 1...3)
        let dilated = (try c.sizes("dilations") ?? []).contains { $0 != 1 }
        let target = axes == 3 || dilated ? 3 : 2, lift = target - axes
        let (lifted, pooled) = try pooling(c, x, axes: axes, lift: lift)
        var a = pooled
        if c.int("count_include_pad", default: 0) != 0 { a["count_include_pad"] = .bool(true) }
        return [.graph(try dropSpatial(c, try c.emit(target == 3 ? .avgpool3d : .avgpool2d, [lifted], a), by: lift))]
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
