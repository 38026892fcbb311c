import GraphIR
import Runtime

// Ops that move elements without computing: reshapes, transposes, concatenation, slices and
// gathers. On tensors known at import they are computed here.

extension ONNXOps {
    static let movement: [ONNXOpConverter] = [reshape, flatten, transpose, concat, squeeze, unsqueeze, gather, slice, pad]

    /// Reshapes a graph value, or a tensor known at import, to `dims` (known or symbolic).
    static func reshaped(_ c: ONNXNodeContext, _ input: Int, to dims: [Dim]) throws -> ONNXValue {
        let v = try c.value(input)
        if case .constant(let t) = v, dims.allSatisfy({ $0.value != nil }) {
            let shape = dims.map { $0.value ?? 0 }
            guard shape.reduce(1, *) == t.count else { throw c.fail("cannot reshape \(t.shape) to \(shape)") }
            var r = t; r.shape = shape
            return .constant(r)
        }
        if case .dims(let d, _) = v {
            guard dims.count <= 1, d.count == (dims.first?.value ?? 1) else { throw c.fail("cannot reshape a shape vector to \(dims)") }
            return .dims(d, scalar: dims.isEmpty)
        }
        let x = try c.tensor(input)
        if c.type(x).shape.dims == dims { return .graph(x) }
        return .graph(try c.emit(.reshape, [x], ["shape": .shape(Shape(dims))]))
    }

    /// Reshape with ONNX's target: 0 copies the input's size (unless allowzero), -1 is inferred.
    static let reshape = ONNXOpConverter("Reshape") { c in
        let target = try c.staticDims(1, "the target shape").dims
        let input = try c.inputType(0).shape
        let allowZero = c.int("allowzero", default: 0) != 0
        var dims: [Dim] = []
        for (i, d) in target.enumerated() {
            if d == .known(0), !allowZero {
                guard i < input.rank else { throw c.fail("target \(target) copies axis \(i), which the input \(input) does not have") }
                dims.append(input[i])
            } else {
                if let n = d.value, n < -1 { throw c.fail("target \(target) has a negative size \(n)") }
                dims.append(d)
            }
        }
        if dims.filter({ $0 == .known(-1) }).count > 1 { throw c.fail("target \(target) infers more than one size (-1)") }
        if dims.contains(.known(-1)), let known = input.knownCount, dims.allSatisfy({ $0.value != nil }) {
            let rest = dims.reduce(1) { $1 == .known(-1) ? $0 : $0 * ($1.value ?? 1) }
            guard rest > 0, known % rest == 0 else { throw c.fail("cannot reshape \(input) to \(target)") }
            dims = dims.map { $0 == .known(-1) ? .known(known / rest) : $0 }
        }
        return [try reshaped(c, 0, to: dims)]
    }

    /// Flatten to [product of dims before axis, product of the rest].
    static let flatten = ONNXOpConverter("Flatten") { c in
        let shape = try c.inputType(0).shape
        let axis = c.int("axis", default: 1)
        let ax = axis < 0 ? axis + shape.rank : axis
        guard ax >= 0, ax <= shape.rank else { throw c.fail("axis \(axis) is out of range for rank \(shape.rank)") }
        func product(_ d: ArraySlice<Dim>) -> Dim? {
            if d.count == 1 { return d.first }
            var n = 1
            for x in d { guard let v = x.value else { return nil }; n *= v }
            return .known(n)
        }
        let left = product(shape.dims[..<ax]), right = product(shape.dims[ax...])
        let dims: [Dim]
        switch (left, right) {
        case (let l?, let r?): dims = [l, r]
        case (let l?, nil): dims = [l, .known(-1)]
        case (nil, let r?): dims = [.known(-1), r]
        default: throw c.fail("cannot flatten \(shape) at axis \(axis): both sides have symbolic sizes")
        }
        return [try reshaped(c, 0, to: dims)]
    }

    static let transpose = ONNXOpConverter("Transpose") { c in
        let x = try c.tensor(0)
        let rank = c.type(x).rank
        let perm = c.ints("perm") ?? Array((0..<rank).reversed())
        guard perm.sorted() == Array(0..<rank) else { throw c.fail("perm \(perm) is not a permutation of the \(rank) axes") }
        if perm == Array(0..<rank) { return [.graph(x)] }
        return [.graph(try c.emit(.transpose, [x], ["perm": .ints(perm)]))]
    }

    /// Concat; shape vectors known at import (PyTorch's `view(x.size(0), -1)`) are joined here.
    static let concat = ONNXOpConverter("Concat") { c in
        guard let axis = c.int("axis") else { throw c.fail("attribute axis is required") }
        var parts: [[Dim]] = []
        for i in 0..<c.inputCount {
            guard let d = try c.value(i).staticDims, !d.scalar else { parts = []; break }
            parts.append(d.dims)
        }
        // Joined at import only while small: a chain of Concats doubling a vector must not
        // grow without bound before anything runs.
        if parts.count == c.inputCount, c.inputCount > 0, parts.reduce(0, { $0 + $1.count }) <= ONNXValue.maxFoldedEntries {
            guard axis == 0 || axis == -1 else { throw c.fail("axis \(axis) is out of range for vectors") }
            return [.ints(parts.flatMap { $0 }, scalar: false)]
        }
        let xs = try (0..<c.inputCount).map { try c.tensor($0) }
        let ax = try c.axis(axis, rank: c.type(xs[0]).rank)
        if xs.count == 1 { return [.graph(xs[0])] }
        return [.graph(try c.emit(.concat, xs, ["axis": .int(ax)]))]
    }

    /// The axes of Squeeze / Unsqueeze: an attribute before opset 13, an input from 13 on.
    static func axesOperand(_ c: ONNXNodeContext) throws -> [Int]? {
        if c.opset >= 13 { return c.has(1) ? try c.staticInts(1, "axes") : nil }
        return c.ints("axes")
    }

    static let squeeze = ONNXOpConverter("Squeeze") { c in
        let shape = try c.inputType(0).shape
        let axes = try axesOperand(c).map { try $0.map { try c.axis($0, rank: shape.rank) } }
            ?? shape.dims.indices.filter { shape[$0] == .known(1) }
        for a in axes where shape[a] != .known(1) { throw c.fail("cannot squeeze axis \(a) of \(shape): its size is not 1") }
        let dims = shape.dims.indices.filter { !axes.contains($0) }.map { shape[$0] }
        return [try reshaped(c, 0, to: dims)]
    }

    static let unsqueeze = ONNXOpConverter("Unsqueeze") { c in
        let shape = try c.inputType(0).shape
        guard let raw = try axesOperand(c) else { throw c.fail("axes are required") }
        let rank = shape.rank + raw.count
        let axes = Set(try raw.map { try c.axis($0, rank: rank) })
        guard axes.count == raw.count else { throw c.fail("axes \(raw) repeat an axis") }
        var rest = shape.dims.makeIterator()
        let dims = (0..<rank).map { axes.contains($0) ? .known(1) : (rest.next() ?? .known(1)) }
        return [try reshaped(c, 0, to: dims)]
    }

    /// Gather: on a shape known at import it picks sizes; on a graph value along axis 0 of a
    /// 2-D table with int ids it is an embedding lookup; with a scalar index known at import a
    /// `select`, with consecutive indices a `slice`.
    static let gather = ONNXOpConverter("Gather") { c in
        let axis = c.int("axis", default: 0)
        if let data = try c.value(0).staticDims, !data.scalar, let idx = try c.value(1).staticDims {
            guard axis == 0 || axis == -1 else { throw c.fail("axis \(axis) is out of range for a vector") }
            let picked = try idx.dims.map { d -> Dim in
                guard var i = d.value else { throw c.fail("index \(d) is not known at import") }
                if i < 0 { i += data.dims.count }
                guard i >= 0, i < data.dims.count else { throw c.fail("index \(d) is out of range for \(data.dims.count) entries") }
                return data.dims[i]
            }
            return [.ints(picked, scalar: idx.scalar)]
        }
        let dataType = try c.inputType(0)
        let ax = try c.axis(axis, rank: dataType.rank)
        if let t = c.constant(1), t.dtype == .i64 {
            let size = dataType.shape[ax].value
            let indices = try t.ints.map { raw -> Int in
                var i = Int(clamping: raw)
                if i < 0, let n = size { i += n }
                guard i >= 0, size.map({ i < $0 }) ?? true else { throw c.fail("index \(raw) is out of range for axis \(ax) of \(dataType)") }
                return i
            }
            let x = try c.tensor(0)
            if t.shape.isEmpty, let i = indices.first {
                return [.graph(try c.emit(.select, [x], ["axis": .int(ax), "index": .int(i)]))]
            }
            if t.shape.count == 1, let first = indices.first, indices == Array(first..<(first + indices.count)) {
                return [.graph(try c.emit(.slice, [x], ["axis": .int(ax), "start": .int(first), "end": .int(first + indices.count)]))]
            }
        }
        guard try c.inputType(1).dtype == .i64 else { throw c.fail("indices must be integers, got \(try c.inputType(1))") }
        if ax == 0, dataType.rank == 2, c.constant(1) == nil {
            return [.graph(try c.emit(.embedding, [try c.tensor(1), try c.tensor(0)]))]
        }
        var indices = try c.tensor(1)
        if let t = c.constant(1), let size = dataType.shape[ax].value {
            // graphc's gather takes indices in 0..<n: negative constant ones are turned here.
            let fixed = HostTensor(shape: t.shape, ints: t.ints.map { $0 < 0 ? $0 + Int64(size) : $0 })
            indices = try c.importer.graphValue(.constant(fixed), name: c.name + ".indices")
        }
        return [.graph(try c.emit(.gather, [try c.tensor(0), indices], ["axis": .int(ax)]))]
    }

    /// Pad: pads as an attribute before opset 11, then as an input known at import (with the
    /// optional constant value and, from 18, the axes they apply to). A constant value given
    /// at run time fills through a mask known at import: pad(x) + mask * value.
    static let pad = ONNXOpConverter("Pad") { c in
        let x = try c.tensor(0)
        let rank = c.type(x).rank
        let mode = c.string("mode", default: "constant")
        guard let padMode = PadMode(rawValue: mode) else {
            throw c.fail("mode \"\(mode)\" is not supported (\(PadMode.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        var pads: [Int]
        var value = 0.0
        var runtimeValue: Value?
        if c.opset < 11 {
            pads = try c.sizes("pads") ?? []
            value = c.float("value", default: 0)
        } else {
            pads = try c.staticInts(1, "pads")
            if let bad = pads.first(where: { $0.magnitude > UInt(Shape.maxElementCount) }) {
                throw c.fail("pads \(pads) hold \(bad), beyond graphc's limit of ±\(Shape.maxElementCount)")
            }
            if c.has(2), padMode == .constant {
                if let v = c.constant(2) {
                    guard v.count == 1 else { throw c.fail("constant_value (input 2) must be one value, got shape \(v.shape)") }
                    value = v.dtype == .f32 ? Double(v.floats[0]) : Double(v.ints[0])
                } else {
                    let v = try c.tensor(2)
                    guard c.type(v).shape.knownCount == 1 else { throw c.fail("constant_value (input 2) must be one value, got \(c.type(v))") }
                    guard c.type(v).dtype == .f32, c.type(x).dtype == .f32 else {
                        throw c.fail("a constant_value given at run time fills float tensors only (input is \(c.type(x)), value \(c.type(v)))")
                    }
                    runtimeValue = v
                }
            }
            if c.has(3) {
                let axes = try c.staticInts(3, "axes").map { try c.axis($0, rank: rank) }
                guard pads.count == 2 * axes.count else { throw c.fail("pads \(pads) do not give a begin and end for each of the axes \(axes)") }
                var full = [Int](repeating: 0, count: 2 * rank)
                for (k, a) in axes.enumerated() { full[a] = pads[k]; full[rank + a] = pads[axes.count + k] }
                pads = full
            }
        }
        guard pads.count == 2 * rank else { throw c.fail("pads \(pads) must give \(2 * rank) values for rank \(rank)") }
        if pads.allSatisfy({ $0 == 0 }) { return [.graph(x)] }
        var a: Attributes = ["pads": .ints(pads), "mode": .string(mode)]
        if value != 0 { a["pad_value"] = .float(value) }
        let y = try c.emit(.pad, [x], a)
        guard let v = runtimeValue else { return [.graph(y)] }
        let mask = try paddingMask(c, input: c.type(x).shape, output: c.type(y).shape, pads: pads)
        if mask.floats.allSatisfy({ $0 == 0 }) { return [.graph(y)] }
        let fill = try c.emit(.mul, [try c.importer.graphValue(.constant(mask), name: c.name + ".padding"), v])
        return [.graph(try c.emit(.add, [y, fill]))]
    }

    /// 1 where constant padding of `input` by `pads` fills `output`, 0 where it copies.
    static func paddingMask(_ c: ONNXNodeContext, input: Shape, output: Shape, pads: [Int]) throws -> HostTensor {
        guard let xs = input.knownDims, let ys = output.knownDims, let bytes = MemoryBudget.bytes(elements: ys, byteSize: 4) else {
            throw c.fail("a constant_value given at run time needs known sizes, the input is \(input)")
        }
        try c.importer.account(bytes, for: "the padding mask of shape \(ys)", context: c)
        let rank = ys.count
        // The work is proportional to the output's elements (which the budget bounds), whatever
        // the size of any one axis: whether a position lies in the padding is computed in place.
        var out = [Float](repeating: 0, count: bytes / 4)
        var index = [Int](repeating: 0, count: rank)
        for k in out.indices {
            if (0..<rank).contains(where: { index[$0] < pads[$0] || index[$0] - pads[$0] >= xs[$0] }) { out[k] = 1 }
            var axis = rank - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < ys[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
        return HostTensor(shape: ys, floats: out)
    }

    /// Slice as ONNX defines it: negative starts and ends count from the end, both are
    /// clamped to the axis (to [0, n] with a positive step, to [-1, n-1] with a negative one),
    /// and the step may be any but 0. On a shape known at import it is computed here; on a
    /// graph value a step of 1 is one `slice` per axis, any other step (or an empty result)
    /// a `gather` of the positions it picks.
    static let slice = ONNXOpConverter("Slice", opsets: 10...ONNXModel.maxOpset) { c in
        let starts = try c.staticInts(1, "starts"), ends = try c.staticInts(2, "ends")
        guard starts.count == ends.count else { throw c.fail("starts \(starts) and ends \(ends) differ in length") }
        let type = try c.inputType(0)
        let axes = c.has(3) ? try c.staticInts(3, "axes") : Array(0..<starts.count)
        let steps = c.has(4) ? try c.staticInts(4, "steps") : Array(repeating: 1, count: starts.count)
        guard axes.count == starts.count, steps.count == starts.count else { throw c.fail("starts, ends, axes and steps differ in length") }
        if let zero = steps.firstIndex(of: 0) { throw c.fail("step \(zero) is 0") }
        /// The positions slice k picks along an axis of `size`.
        func positions(_ k: Int, size: Int) -> StrideTo<Int> {
            let step = steps[k]
            func clamped(_ v: Int) -> Int {
                let i = v < 0 ? max(v, -size - 1) + size : min(v, size + 1)
                return step > 0 ? max(0, min(size, i)) : max(-1, min(size - 1, i))
            }
            return stride(from: clamped(starts[k]), to: clamped(ends[k]), by: step)
        }
        if let d = try c.value(0).staticDims, !d.scalar {
            guard axes.count == 1, try c.axis(axes[0], rank: 1) == 0 else { throw c.fail("a shape vector has one axis") }
            return [.ints(positions(0, size: d.dims.count).map { d.dims[$0] }, scalar: false)]
        }
        var x = try c.tensor(0)
        for (k, a) in axes.enumerated() {
            let ax = try c.axis(a, rank: type.rank)
            let size = try c.knownSize(x, ax, "sliced axis")
            let picked = Array(positions(k, size: size))
            if steps[k] == 1, picked.count == size { continue }
            if steps[k] == 1, let first = picked.first, let last = picked.last {
                x = try c.emit(.slice, [x], ["axis": .int(ax), "start": .int(first), "end": .int(last + 1)])
                continue
            }
            guard c.type(x).dtype == .f32 else { throw c.fail("a step other than 1 is supported on float tensors only, got \(c.type(x))") }
            let indices = HostTensor(shape: [picked.count], ints: picked.map { Int64($0) })
            let ids = try c.importer.graphValue(.constant(indices), name: "\(c.name).positions\(k)")
            x = try c.emit(.gather, [x, ids], ["axis": .int(ax)])
        }
        return [.graph(x)]
    }
}

extension Shape {
    /// The sizes when every one is a number.
    var knownDims: [Int]? { isKnown ? dims.map { $0.value ?? 0 } : nil }
}
