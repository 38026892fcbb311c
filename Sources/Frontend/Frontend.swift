import GraphIR
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum Mode: String, Sendable {
    case train, infer
}

public struct FrontendOptions: Sendable {
    /// `.train` lowers the teacher-forced training graph, `.infer` the inference graph; the
    /// DSL reads it as the builtin `mode`.
    public var mode: Mode = .train
    /// Guards against runaway unrolling: graph size, iterations of one loop, statements run.
    public var maxNodes = 250_000
    public var maxLoopIterations = 100_000
    public var maxSteps = 1_000_000
    /// What `train(on:metric:optimizer:)` may name; anything else is a located error.
    public var datasets: Set<String> = TrainingSettings.names(TrainingSettings.dataset)
    public var metrics: Set<String> = TrainingSettings.names(TrainingSettings.metric)
    public var optimizers: Set<String> = TrainingSettings.names(TrainingSettings.optimizer)

    public init() {}
    public init(mode: Mode) { self.mode = mode }
}

/// One row of the layer table printed by `--count-params`: a module at its first call.
public struct LayerSummaryRow: Equatable, Sendable {
    /// The module path, e.g. `convblock1.0` or `layer2.0.downsample.1`.
    public var name: String
    /// The layer kind (`Conv2d`, `Sequential`) or the `func` that built it (`BasicBlock`).
    public var type: String
    public var outputShape: Shape
    /// Elements of the parameters the module itself owns (its children have their own rows),
    /// so the column sums to the model's total.
    public var parameters: Int
    /// Elements of non-trainable buffers (BatchNorm running statistics).
    public var buffers: Int
    /// Nesting depth (0 for top-level modules), for indenting the table.
    public var depth: Int

    public init(name: String, type: String, outputShape: Shape, parameters: Int, buffers: Int, depth: Int = 0) {
        self.name = name; self.type = type; self.outputShape = outputShape
        self.parameters = parameters; self.buffers = buffers; self.depth = depth
    }
}

public enum Frontend {
    /// Parses and lowers a .swiftgraph source into a typed graph. Errors are `Diagnostic`s
    /// (file:line:col, source line, caret). Never traps on any input.
    public static func lower(source: String, file: String, options: FrontendOptions = .init()) throws -> Graph {
        try lowerWithSummary(source: source, file: file, options: options).0
    }

    /// Reads and lowers a file; an unreadable file is a `Diagnostic` naming it.
    public static func lower(path: String, options: FrontendOptions = .init()) throws -> Graph {
        try lowerWithSummary(path: path, options: options).0
    }

    /// Lowers and also returns one summary row per module (shared modules once).
    public static func lowerWithSummary(source rawSource: String, file: String, options: FrontendOptions = .init()) throws -> (Graph, [LayerSummaryRow]) {
        let source = normalized(rawSource)
        let lowerer = Lowerer(file: file, options: options)
        do {
            let program = try Parser.parse(source)
            try DescribeContext.$graph.withValue(lowerer.builder) {
                try lowerer.run(program)
            }
            return (lowerer.builder.finish(), lowerer.rows)
        } catch let e as DSLError {
            throw Diagnostic(e.message, at: SourceLocation(file: file, line: e.line, column: e.column), source: source, notes: e.notes)
        }
    }

    /// Windows and old-Mac line ends become `\n` (so lines and columns match what editors
    /// show) and a leading byte-order mark is dropped, as swiftc does.
    static func normalized(_ s: String) -> String {
        var text = s
        if text.first == "\u{FEFF}" { text.removeFirst() }
        guard text.contains(where: { $0 == "\r\n" || $0 == "\r" }) else { return text }
        return String(text.map { $0 == "\r\n" || $0 == "\r" ? "\n" : $0 })
    }

    public static func lowerWithSummary(path: String, options: FrontendOptions = .init()) throws -> (Graph, [LayerSummaryRow]) {
        try lowerWithSummary(source: try readSource(path), file: path, options: options)
    }

    /// The file's text, or a diagnostic saying why it cannot be read.
    static func readSource(_ path: String) throws -> String {
        let location = SourceLocation(file: path, line: 1, column: 1)
        if let problem = InputFile.problem(path, maxBytes: InputFile.maxModelBytes) {
            throw Diagnostic("cannot read the graph file: it \(problem)", at: location)
        }
        guard let f = fopen(path, "rb") else {
            let reason = String(cString: strerror(errno))
            throw Diagnostic("cannot read the graph file: \(reason)", at: location)
        }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, 65536, f) }
            if n > 0 { bytes.append(contentsOf: chunk[0..<n]) }
            if n < 65536 {
                if ferror(f) != 0 { throw Diagnostic("cannot read the graph file: read error (is it a directory?)", at: location) }
                break
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw Diagnostic("the graph file is not valid UTF-8 text", at: location)
        }
        return text
    }
}

extension LayerSummaryRow {
    /// The torchinfo-like table `--count-params` prints: one row per module, indented by
    /// depth, then the totals.
    ///
    ///     Layer (type)                 Output shape        Param #
    ///     convblock1 (Sequential)      [B,16,14,14]        0
    ///       convblock1.0 (Conv2d)      [B,16,28,28]        160
    public static func table(_ rows: [LayerSummaryRow]) -> String {
        let cells = rows.map { r -> (String, String, String) in
            let indent = String(repeating: "  ", count: max(0, r.depth))
            let p = r.buffers > 0 ? "\(grouped(r.parameters)) (+\(grouped(r.buffers)) buffers)" : grouped(r.parameters)
            return (indent + "\(r.name) (\(r.type))", r.outputShape.description, p)
        }
        let header = ("Layer (type)", "Output shape", "Param #")
        let w0 = max(header.0.count, cells.map(\.0.count).max() ?? 0) + 2
        let w1 = max(header.1.count, cells.map(\.1.count).max() ?? 0) + 2
        func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
        var out = pad(header.0, w0) + pad(header.1, w1) + header.2 + "\n"
        let rule = String(repeating: "=", count: w0 + w1 + 12) + "\n"
        out += rule
        for c in cells { out += pad(c.0, w0) + pad(c.1, w1) + c.2 + "\n" }
        out += rule
        out += "Total params: \(grouped(rows.reduce(0) { $0 + $1.parameters }))\n"
        let buffers = rows.reduce(0) { $0 + $1.buffers }
        if buffers > 0 { out += "Buffers (not trained): \(grouped(buffers))\n" }
        return out
    }

    /// 769930 -> "769,930".
    static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (n < 0 ? "-" : "") + out
    }
}
