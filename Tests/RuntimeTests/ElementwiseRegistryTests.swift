import Foundation
import GraphIR
import Passes
@testable import Runtime
import XCTest

/// Walks the op registry: every elementwise op declares a scalar function, fuses into a
/// fused_elementwise program that round-trips through the IR text, and computes the same
/// floats unfused, fused and constant-folded, close to a plain Double reference.
final class ElementwiseRegistryTests: XCTestCase {
    /// Plain Double versions of the scalar functions, by op name (`k`: the op's constants).
    /// An elementwise op missing here fails `testEveryElementwiseOpMatchesItsDoubleReference`.
    static let reference: [String: (_ a: Double, _ b: Double, _ k: [Double]) -> Double] = [
        "relu": { x, _, _ in max(x, 0) },
        "sigmoid": { x, _, _ in 1 / (1 + Foundation.exp(-x)) },
        "tanh": { x, _, _ in Foundation.tanh(x) },
        "exp": { x, _, _ in Foundation.exp(x) },
        "log": { x, _, _ in Foundation.log(x) },
        "neg": { x, _, _ in -x },
        "scale": { x, _, k in x * k[0] },
        "clamp": { x, _, k in min(max(x, k[0]), k[1]) },
        "add": { a, b, _ in a + b },
        "sub": { a, b, _ in a - b },
        "mul": { a, b, _ in a * b },
        "div": { a, b, _ in a / b },
        "relu_grad": { dy, x, _ in x > 0 ? dy : 0 },
        "leaky_relu": { x, _, k in x > 0 ? x : k[0] * x },
        "sqrt": { x, _, _ in x.squareRoot() },
        "pow": { x, _, k in Foundation.pow(x, k[0]) },
        "abs": { x, _, _ in Swift.abs(x) },
        "erf": { x, _, _ in Foundation.erf(x) },
        "hard_sigmoid": { x, _, k in min(max(k[0] * x + k[1], 0), 1) },
        "maximum": { a, b, _ in Swift.max(a, b) },
        "minimum": { a, b, _ in Swift.min(a, b) },
        "power": { a, b, _ in Foundation.pow(a, b) },
    ]

    /// Elementwise by fusion class but not one scalar function of one or two operands:
    /// the fused op itself, and batch_norm (five operands, four of them per channel), which
    /// the fusion pass folds into the convolution before it instead.
    static let notScalarFunctions: Set<OpDef> = [.fusedElementwise, .batchNorm]

    /// Every op the fusion pass classes as elementwise, but those above.
    var elementwiseOps: [OpDef] {
        OpRegistry.all.filter { $0.fusion == .elementwise && !ElementwiseRegistryTests.notScalarFunctions.contains($0) }
    }

    /// The op's constant attributes: the i-th is -0.5 + 1.25 i (scale by -0.5, clamp to
    /// [-0.5, 0.75]).
    func attributes(_ f: ScalarFunction) -> Attributes {
        var a = Attributes()
        for (i, name) in f.constantNames.enumerated() { a[name] = .float(-0.5 + 1.25 * Double(i)) }
        return a
    }

    /// Operands over [-3, 3] (never 0, so div is defined), the second in another order.
    func operands(_ count: Int, n: Int = 300) -> [HostTensor] {
        (0..<count).map { k in
            let floats = (0..<n).map { i -> Float in
                let slot = Double((i * (k + 1) * 7) % n) + 0.5
                return Float(-3 + 6 * slot / Double(n))
            }
            return HostTensor(shape: [n], floats: floats)
        }
    }

    func sameFloats(_ a: [Float], _ b: [Float]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
    }

    func testEveryElementwiseOpHasAScalarFunctionAndABlockKernel() {
        XCTAssertFalse(elementwiseOps.isEmpty)
        for op in elementwiseOps {
            guard let f = op.scalarFunction else { XCTFail("elementwise op \(op.name) declares no scalar function"); continue }
            XCTAssertEqual(OpRegistry.byOpcode[f.opcode], op, "opcode \(f.opcode)")
            XCTAssertTrue(CPUKernels.elementwise(opcode: f.opcode) == op.spec as? ElementwiseKernelOp.Type, "op \(op.name) has no block kernel for fused programs")
        }
        for op in ElementwiseRegistryTests.notScalarFunctions { XCTAssertNil(op.scalarFunction, op.name) }
    }

    /// The unfused kernel against the Double reference.
    func testEveryElementwiseOpMatchesItsDoubleReference() throws {
        for op in elementwiseOps {
            guard let f = op.scalarFunction, let ref = ElementwiseRegistryTests.reference[op.name] else {
                XCTFail("no Double reference for \(op.name)"); continue
            }
            let xs = operands(f.operandCount), a = attributes(f)
            let k = f.constantNames.map { a.float($0) ?? 0 }
            let y = try runOp(op, xs, a).floats
            for i in y.indices {
                let e = ref(Double(xs[0].floats[i]), f.operandCount > 1 ? Double(xs[1].floats[i]) : 0, k)
                if e.isNaN { XCTAssertTrue(y[i].isNaN, "\(op.name) element \(i)"); continue }
                XCTAssertEqual(Double(y[i]), e, accuracy: 2e-6 * max(1, abs(e)), "\(op.name) element \(i)")
            }
        }
    }

    /// `neg(op(x...))` becomes one fused_elementwise node whose result is the unfused one's,
    /// float for float, and whose IR text parses back to the same graph.
    func testEveryElementwiseOpFusesAndComputesTheSameFloats() throws {
        for op in elementwiseOps {
            guard let f = op.scalarFunction else { XCTFail("\(op.name): no scalar function"); continue }
            let xs = operands(f.operandCount)
            let b = GraphBuilder(name: "fuse_\(op.name)")
            let inputs = xs.indices.map { b.input("x\($0)", .f32(Shape(known: [300]))) }
            let y = try b.emit(.neg, [try b.emit(op, inputs, attributes(f))])
            b.outputs = [("y", y)]
            let g = b.finish()
            let fused = try Pipeline(["fusion", "dce", "verify"]).run(g, .checked)
            XCTAssertEqual(fused.nodes.filter { $0.op == .fusedElementwise }.count, 1, "\(op.name) fuses")
            XCTAssertTrue(fused.nodes.allSatisfy { $0.op == .input || $0.op == .fusedElementwise }, "\(op.name): \(IRPrinter.print(fused))")
            let text = IRPrinter.print(fused)
            XCTAssertEqual(IRPrinter.print(try IRParser.parse(text, file: "fused.gir")), text, "\(op.name) round-trips")

            var feeds: [String: HostTensor] = [:]
            for (i, x) in xs.enumerated() { feeds["x\(i)"] = x }
            let plain = try Executor(graph: g, options: ExecutionOptions()).run(feeds: feeds, parameters: ParameterStore())
            let fast = try Executor(graph: fused, options: ExecutionOptions()).run(feeds: feeds, parameters: ParameterStore())
            XCTAssertTrue(sameFloats(plain["y"]?.floats ?? [], fast["y"]?.floats ?? [1]), "\(op.name): fused and unfused differ")
        }
    }

    /// Every op that takes i64 operands computes on them, unfused, exactly its declared
    /// integer function (the one the importer folds with).
    func testEveryIntegerOpsKernelIsItsIntegerFunction() throws {
        let integerOps = elementwiseOps.filter { $0.scalarFunction?.takesIntegers ?? false }
        XCTAssertEqual(Set(integerOps.map(\.name)), ["add", "sub", "mul", "div", "maximum", "minimum", "power"])
        let a: [Int64] = [-9, -3, -1, 0, 1, 2, 5, 40, .max, .min]
        let b: [Int64] = [2, -2, 3, 0, -1, 7, 0, 3, 2, -1]
        for op in integerOps {
            let f = try XCTUnwrap(op.scalarFunction)
            let y = try runOp(op, [HostTensor(shape: [a.count], ints: a), HostTensor(shape: [b.count], ints: b)])
            XCTAssertEqual(y.dtype, .i64, op.name)
            XCTAssertEqual(y.ints, zip(a, b).map { f.integers($0, $1) ?? 0 }, op.name)
        }
    }

    /// `op(constants...)` folds to the constant the kernel computes, bit for bit.
    func testConstantFoldingOfEveryElementwiseOpIsTheKernels() throws {
        let values: [Float] = [-2.5, -1, -0.25, 0, 0.5, 1, 3, 40, .nan]
        for op in elementwiseOps {
            guard let f = op.scalarFunction else { XCTFail("\(op.name): no scalar function"); continue }
            for (i, v) in values.enumerated() {
                let w = values[(i + 3) % values.count]
                let operands = Array([v, w].prefix(f.operandCount))
                let b = GraphBuilder(name: "fold_\(op.name)")
                let y = try b.emit(op, try operands.map { try b.scalar(Double($0)) }, attributes(f))
                b.outputs = [("y", y)]
                let g = b.finish()
                let folded = try Pipeline(["constant-folding", "dce"]).run(g, .checked)
                guard let out = folded.outputs.first?.1, folded[out].op == .constant, let value = folded[out].attributes.float("value") else {
                    XCTFail("\(op.name)\(operands) did not fold: \(IRPrinter.print(folded))"); continue
                }
                let kernel = try runOp(op, operands.map { HostTensor(scalar: $0) }, attributes(f)).floats
                XCTAssertTrue(sameFloats([Float(value)], kernel), "\(op.name)\(operands): folded \(value), kernel \(kernel)")
            }
        }
    }
}
