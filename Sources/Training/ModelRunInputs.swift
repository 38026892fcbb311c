import Datasets
import Foundation
import GraphIR
import Runtime

/// Arrays read for `ModelRun` from the `--inputs` specs: `FILE.npz` gives every array of the
/// archive under its name, `NAME=FILE.npy` one array, and a bare `FILE.npy` one array named
/// after the file (`X.npy` is input `X`). The readers check each header's shape against the
/// bytes present before anything is allocated.
public struct RunInputs {
    public var arrays: [String: NPYArray] = [:]
    /// The file each array came from, for messages.
    public var sources: [String: String] = [:]

    public init() {}

    public init(specs: [String]) throws {
        for spec in specs {
            if let eq = spec.firstIndex(of: "="), !spec[..<eq].contains("/") {
                let name = String(spec[..<eq]), path = String(spec[spec.index(after: eq)...])
                guard !name.isEmpty, !path.isEmpty else { throw RuntimeError("--inputs '\(spec)': give NAME=FILE.npy") }
                try add(name, try NPYReader.read(path: path), from: path)
            } else if spec.hasSuffix(".npz") {
                let archive = try NPZArchive(path: spec)
                for key in archive.keys { try add(key, try archive.array(key), from: spec) }
            } else if spec.hasSuffix(".npy") {
                let name = ((spec as NSString).lastPathComponent as NSString).deletingPathExtension
                try add(name, try NPYReader.read(path: spec), from: spec)
            } else {
                throw RuntimeError("--inputs '\(spec)': give FILE.npz (arrays by input name), NAME=FILE.npy or NAME.npy")
            }
        }
    }

    public mutating func add(_ name: String, _ array: NPYArray, from source: String) throws {
        if let prior = sources[name] { throw RuntimeError("input '\(name)' is given twice: by \(prior) and by \(source)") }
        arrays[name] = array
        sources[name] = source
    }
}

extension ModelRun {
    /// Feeds for `run`, and which of them are random.
    public struct Feeds {
        public var tensors: [String: HostTensor]
        /// One line per random input: name, type and distribution.
        public var random: [String]
    }

    /// Checks `given` against the declared inputs (names, dtypes, shapes; an array the model
    /// does not take is an error) and converts it. With `fillMissing`, inputs not given get
    /// seeded random values of their declared shapes: f32 standard normal, i64 uniform over
    /// the ids the graph can index with them (`indexBound`); a symbol no given input binds
    /// takes `symbolSize`. Without it, a missing input is an error that lists the inputs.
    public func feeds(from given: RunInputs, fillMissing: Bool, symbolSize: Int = 1) throws -> Feeds {
        try checkNames(Set(given.arrays.keys), sources: given.sources, allowMissing: fillMissing)
        var shapes = ShapeBinding(model: file)
        var tensors: [String: HostTensor] = [:]
        for (name, type) in inputs {
            guard let array = given.arrays[name] else { continue }
            let matches = (type.dtype == .f32 && array.dtype == .f32) || (type.dtype == .i64 && array.dtype == .i64)
            try shapes.check(input: name, source: given.sources[name], dtype: array.dtype.numpyName, dtypeMatches: matches,
                             shape: array.shape, declared: type)
            tensors[name] = type.dtype == .f32 ? HostTensor(shape: array.shape, floats: array.floats())
                                               : HostTensor(shape: array.shape, ints: try array.int64s())
        }
        var random: [String] = []
        let source = RandomSource(seed: seed &+ 1)
        for (name, type) in inputs where tensors[name] == nil {
            let shape = type.shape.dims.map { d -> Int in
                switch d {
                case .known(let n): return n
                case .symbol(let s): return shapes.sizes[s] ?? symbolSize
                }
            }
            var count = 1
            for d in shape {
                let (p, o) = count.multipliedReportingOverflow(by: d)
                guard !o, p <= Self.maxRandomElements else {
                    throw RuntimeError("random input '\(name)' would be \(type.dtype.rawValue)\(shape), more than \(Self.maxRandomElements) elements; give a smaller --batch-size or the input itself")
                }
                count = p
            }
            if type.dtype == .f32 {
                tensors[name] = HostTensor(shape: shape, floats: (0..<count).map { _ in source.nextNormal() })
                random.append("\(name) \(NPYWriter.pythonTuple(shape)) float32, standard normal")
            } else {
                guard let bound = indexBound(of: name) else {
                    throw RuntimeError("input '\(name)' (\(type)) holds integers whose range graphc cannot tell from \(file) (it indexes no embedding table and is no loss target); give it with --inputs \(name)=FILE.npy")
                }
                tensors[name] = HostTensor(shape: shape, ints: (0..<count).map { _ in Int64(source.nextInt(below: bound)) })
                random.append("\(name) \(NPYWriter.pythonTuple(shape)) int64, uniform in 0..<\(bound)")
            }
        }
        return Feeds(tensors: tensors, random: random)
    }

    /// Random inputs stay below 1 GiB of f32.
    static let maxRandomElements = 1 << 28

    /// The ids an i64 input may hold: 0..<bound, where bound is the smallest number of rows of
    /// an embedding table it indexes or of classes of a loss it is the target of, following it
    /// through ops that only move values (reshape, slice, select, transpose, concat, stack).
    /// nil when it reaches neither.
    public func indexBound(of input: String) -> Int? {
        guard let start = graph.input(named: input) else { return nil }
        let users = graph.users()
        var bound: Int?
        var seen: Set<Int> = [start.id]
        var work = [start.id]
        func limit(_ n: Int?) { if let n, n > 0 { bound = min(bound ?? n, n) } }
        while let v = work.popLast() {
            for u in users[v] {
                let node = graph.nodes[u]
                switch node.op {
                case .embedding where node.inputs.first?.id == v && node.inputs.count == 2:
                    limit(graph.type(of: node.inputs[1]).shape.dims.first?.value)
                case .nllLoss where node.inputs.count == 2 && node.inputs[1].id == v:
                    limit(graph.type(of: node.inputs[0]).shape.dims.last?.value)
                case .reshape, .transpose, .concat, .slice, .select, .stack, .reshapeLike:
                    if node.op == .reshapeLike && node.inputs.first?.id != v { continue }
                    if seen.insert(u).inserted { work.append(u) }
                default:
                    continue
                }
            }
        }
        return bound
    }
}

extension NPYDType {
    /// numpy's name for the dtype, as users write it in `astype`.
    var numpyName: String {
        switch self {
        case .f64: return "float64"
        case .f32: return "float32"
        case .i64: return "int64"
        case .i32: return "int32"
        case .u8: return "uint8"
        }
    }
}
