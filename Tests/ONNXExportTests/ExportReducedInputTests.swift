import GraphIR
@testable import ONNX
import Passes
import Runtime
import XCTest

/// An input taken reduced (`reduced-inputs`) has no ONNX form: its export is refused with a
/// located error naming the input, and the model before the speed-ups exports as usual.
final class ExportReducedInputTests: XCTestCase {
    func testAnInputTakenReducedIsRefused() throws {
        let b = GraphBuilder(name: "reduced")
        let x = b.input("features", .f32(Shape([.symbol("B"), .known(6), .known(4)])))
        b.outputs = [("m", try b.emit(.relu, [try b.emit(.mean, [x], ["axes": .ints([1])])]))]
        let plain = b.finish()
        XCTAssertNoThrow(try ONNXExport.model(plain, parameters: ParameterStore()))
        let taken = try Pass.reducedInputs.run(plain, PassContext())
        XCTAssertThrowsError(try ONNXExport.model(taken, parameters: ParameterStore())) { e in
            XCTAssertTrue("\(e)".contains("input 'features' is taken reduced"), "\(e)")
        }
    }
}
