/// One declaration of the training settings a model carries in its metadata: the DSL's
/// `train(...)` writes them, a `.gir` file's `meta` line spells them out, and the command
/// line's flags override them. All three check a value by the setting's rule here, so
/// `epochs=0` in a `meta` line is refused exactly as `--epochs 0` and `train(epochs: 0)` are.
/// The rules live with the IR because `meta` is part of it: the IR parser checks each
/// setting it reads, located at the `meta` line.
public struct TrainingSetting: Sendable {
    /// What a setting's values may be.
    public enum Rule: Sendable {
        /// An integer in the range.
        case integer(ClosedRange<Int>)
        /// A finite number above `lower` (or at it, when `lowerIncluded`) and below `upper`
        /// (or at it, when `upperIncluded`); an integer is accepted as the number.
        case number(lower: Double, lowerIncluded: Bool, upper: Double, upperIncluded: Bool)
        /// One of the names.
        case name([String])
    }

    /// The metadata key (snake_case), as the `meta` line writes it.
    public let key: String
    /// The DSL's `train(...)` argument label, nil for a setting the DSL does not declare.
    public let label: String?
    /// The command-line flag overriding it, nil for a setting no flag sets.
    public let flag: String?
    public let rule: Rule
    /// What the setting means, for messages and documentation.
    public let meaning: String

    /// The rule in words: "an integer between 1 and 1000000", "a number in [0, 1)".
    public var expected: String {
        switch rule {
        case .integer(let r):
            return r.upperBound == Int.max ? "an integer of at least \(r.lowerBound)" : "an integer between \(r.lowerBound) and \(r.upperBound)"
        case .number(let lo, let loIn, let hi, let hiIn):
            if hi == .infinity { return lo == 0 ? (loIn ? "a finite non-negative number" : "a finite positive number") : "a finite number above \(lo)" }
            return "a number in \(loIn ? "[" : "(")\(Attribute.format(lo)), \(Attribute.format(hi))\(hiIn ? "]" : ")")"
        case .name(let names):
            return "one of " + names.map { "'\($0)'" }.joined(separator: ", ")
        }
    }

    /// Why `value` breaks the rule ("must be an integer between 1 and 1000000, got 0"), or nil
    /// when it keeps it.
    public func problem(with value: Attribute) -> String? {
        let fits: Bool
        switch (rule, value) {
        case (.integer(let r), .int(let n)): fits = r.contains(n)
        case (.number, .int(let n)): fits = accepts(Double(n))
        case (.number, .float(let d)): fits = accepts(d)
        case (.name(let names), .string(let s)): fits = names.contains(s)
        default: fits = false
        }
        return fits ? nil : "must be \(expected), got \(value)"
    }

    public func problem(with value: Int) -> String? { problem(with: .int(value)) }
    public func problem(with value: Double) -> String? { problem(with: .float(value)) }
    public func problem(with value: String) -> String? { problem(with: .string(value)) }

    private func accepts(_ d: Double) -> Bool {
        guard case .number(let lo, let loIn, let hi, let hiIn) = rule, d.isFinite else { return false }
        return (loIn ? d >= lo : d > lo) && (hiIn ? d <= hi : d < hi)
    }
}

public enum TrainingSettings {
    public static let dataset = TrainingSetting(key: "dataset", label: "on", flag: nil, rule: .name(["fashionMNIST", "sydneyCaptions"]),
                                                meaning: "the data the model trains on")
    public static let metric = TrainingSetting(key: "metric", label: "metric", flag: nil, rule: .name(["accuracy", "bleu4", "loss"]),
                                               meaning: "how the model is scored")
    // Upper bounds keep step and progress arithmetic far from overflow.
    public static let epochs = TrainingSetting(key: "epochs", label: "epochs", flag: "--epochs", rule: .integer(1...1_000_000),
                                               meaning: "passes over the training data")
    public static let batchSize = TrainingSetting(key: "batch_size", label: "batchSize", flag: "--batch-size", rule: .integer(1...(1 << 24)),
                                                  meaning: "examples per training step")
    public static let learningRate = TrainingSetting(key: "lr", label: "lr", flag: "--lr", rule: .number(lower: 0, lowerIncluded: false, upper: .infinity, upperIncluded: false),
                                                     meaning: "the optimiser's step size")
    public static let optimizer = TrainingSetting(key: "optimizer", label: "optimizer", flag: "--optimizer", rule: .name(["sgd", "adam"]),
                                                  meaning: "the optimiser")
    public static let momentum = TrainingSetting(key: "momentum", label: "momentum", flag: "--momentum", rule: .number(lower: 0, lowerIncluded: true, upper: 1, upperIncluded: false),
                                                 meaning: "SGD momentum (0 = plain SGD)")
    public static let weightDecay = TrainingSetting(key: "weight_decay", label: "weightDecay", flag: "--l2", rule: .number(lower: 0, lowerIncluded: true, upper: .infinity, upperIncluded: false),
                                                    meaning: "L2 weight decay, applied by the optimiser")
    public static let gradClip = TrainingSetting(key: "grad_clip", label: "gradClip", flag: "--grad-clip", rule: .number(lower: 0, lowerIncluded: false, upper: .infinity, upperIncluded: false),
                                                 meaning: "the bound every gradient value is clamped to")
    public static let dropout = TrainingSetting(key: "dropout", label: "dropout", flag: "--dropout", rule: .number(lower: 0, lowerIncluded: true, upper: 1, upperIncluded: false),
                                                meaning: "the probability replacing every Dropout layer's p")
    public static let seed = TrainingSetting(key: "seed", label: "seed", flag: "--seed", rule: .integer(0...Int.max),
                                             meaning: "seed for weights, shuffling and dropout")
    public static let maxLen = TrainingSetting(key: "max_len", label: "maxLen", flag: nil, rule: .integer(1...100_000),
                                               meaning: "the longest caption, in tokens")
    /// Written by lowering, not by `train(...)`: which graph the model was lowered to.
    public static let mode = TrainingSetting(key: "mode", label: nil, flag: "--mode", rule: .name(["train", "infer"]),
                                             meaning: "the graph lowered: training (teacher forcing, loss) or inference")

    public static let all: [TrainingSetting] = [dataset, metric, epochs, batchSize, learningRate, optimizer, momentum, weightDecay,
                                                gradClip, dropout, seed, maxLen, mode]

    /// The allowed names of a `.name` setting (empty for the others).
    public static func names(_ s: TrainingSetting) -> Set<String> {
        if case .name(let n) = s.rule { return Set(n) }
        return []
    }

    /// Keys passes record in a graph's metadata (`memory-plan`, `param-count`), which a dumped
    /// `.gir` file's `meta` line carries along with the settings.
    public static let recordedKeys = ["arena_bytes", "arena_bytes_without_reuse", "param_count", "trainable_params",
                                      "cached_bytes", "cached_temp_bytes"]

    /// Every key a `meta` line may hold: the settings' keys, then the recorded ones.
    public static var knownKeys: [String] { all.map(\.key) + recordedKeys }

    public static func named(key: String) -> TrainingSetting? { all.first { $0.key == key } }
    public static func named(label: String) -> TrainingSetting? { all.first { $0.label == label } }

    /// The first setting in `metadata` that breaks its rule, as "epochs must be ..., got 0".
    /// Keys that are not settings (what passes record, such as `arena_bytes`) are not checked.
    public static func problem(in metadata: Attributes) -> String? {
        for (key, value) in metadata {
            if let s = named(key: key), let p = s.problem(with: value) { return "\(key) \(p)" }
        }
        return nil
    }
}
