import XCTest
import GraphIR

/// The `program` encoding of fused_elementwise, for every elementwise op in the registry.
final class ElementwiseProgramTests: XCTestCase {
    var scalarOps: [(OpDef, ScalarFunction)] { OpRegistry.all.compactMap { op in op.scalarFunction.map { (op, $0) } } }

    func testOpcodesAreDistinctAndResolve() {
        XCTAssertEqual(Set(scalarOps.map(\.1.opcode)).count, scalarOps.count)
        for (op, f) in scalarOps { XCTAssertEqual(OpRegistry.byOpcode[f.opcode], op) }
    }

    /// One instruction of each op after an earlier one: encoded, decoded and printed.
    func testEveryOpsInstructionRoundTrips() throws {
        for (op, f) in scalarOps {
            // The op's constants (scale's factor -0.5; clamp's min -0.5 and max 0.75), 0 where unused.
            let kept = ScalarConstants(f.constantNames.isEmpty ? 0 : -0.5, f.constantNames.count > 1 ? 0.75 : 0)
            let program = ElementwiseProgram(inputs: 2, code: [
                ElementwiseInstruction(opcode: OpDef.neg.scalarFunction!.opcode, a: 1),
                ElementwiseInstruction(opcode: f.opcode, a: 2, b: 0, constants: kept),
            ])
            let decoded = try ElementwiseProgram(inputs: 2, encoded: program.encoded)
            XCTAssertEqual(decoded, program, op.name)
            XCTAssertEqual(program.encoded.count, 3 + max(3, 1 + f.operandCount + f.constantNames.count), op.name)
            let operands = f.operandCount > 1 ? "r2, r0" : "r2"
            let constants = f.constantNames.isEmpty ? "" : ", " + kept.prefix(f.constantNames.count).map { "\($0)" }.joined(separator: ", ")
            XCTAssertEqual(program.text, "r2 = neg(r1); r3 = \(op.name)(\(operands)\(constants))", op.name)
        }
    }

    func testMalformedProgramsAreRejected() {
        let clamp = OpDef.clamp.scalarFunction!.opcode, add = OpDef.add.scalarFunction!.opcode
        XCTAssertThrowsError(try ElementwiseProgram(inputs: 1, encoded: []))
        XCTAssertThrowsError(try ElementwiseProgram(inputs: 1, encoded: [clamp, 0, 0]), "ends inside clamp")
        XCTAssertThrowsError(try ElementwiseProgram(inputs: 1, encoded: [add, 0, 1]), "register 1 not yet defined")
        XCTAssertThrowsError(try ElementwiseProgram(inputs: 1, encoded: [-1, 0, 0]), "unknown opcode")
        XCTAssertNoThrow(try ElementwiseProgram(inputs: 1, encoded: [clamp, 0, 0, 0]))
    }
}
