import GraphIR

/// A rewriting pass's view of its input: the graph, how many times each value is used (the
/// context's cached analysis) and the context. A pass's state declares the three as stored
/// properties, in this order, and gets `init(g, context)`.
protocol UseCountedPass {
    var g: Graph { get }
    var uses: [Int] { get }
    var context: PassContext { get }
    init(g: Graph, uses: [Int], context: PassContext)
}

extension UseCountedPass {
    init(_ g: Graph, _ context: PassContext) {
        self.init(g: g, uses: context.useCounts(g), context: context)
    }
}
