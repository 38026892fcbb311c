/// Runs `op`'s shape rule after an arity check (rules index their inputs freely), and keeps
/// results within the element limit so later rules' arithmetic cannot overflow. The verifier
/// and the passes that re-type nodes share it.
public func inferType(_ op: OpDef, _ inputs: [TensorType], _ attributes: Attributes) throws -> TensorType {
    guard op.arity.accepts(inputs.count) else { throw ShapeError("wrong number of inputs (\(inputs.count))") }
    let t: TensorType
    do {
        t = try op.shape(ShapeQuery(inputs: inputs, attributes: attributes))
    } catch let e as ShapeError {
        throw e
    } catch {
        throw ShapeError(String(describing: error))
    }
    try checkSize(t)
    return t
}

/// Rejects a type holding more than `Shape.maxElementCount` elements.
public func checkSize(_ t: TensorType) throws {
    guard t.shape.isWithinElementLimit else { throw ShapeError("\(t) holds more than \(Shape.maxElementCount) elements") }
}

/// `(inputs: f32[B,4], ...)`, for messages about a node's types.
public func describe(_ types: [TensorType]) -> String { "(inputs: " + types.map(\.description).joined(separator: ", ") + ")" }
