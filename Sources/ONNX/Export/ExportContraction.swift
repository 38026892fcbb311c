import GraphIR

/// `matmul(a, b) {transpose_a, transpose_b}`: two matrices -> `Gemm` (which reads either
/// operand transposed); batched operands -> `MatMul` after transposing the last two axes of
/// each operand that is read transposed.
public enum ExportMatmul: ONNXExportRule {
    public static let op = OpDef.matmul
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        let ta = n.attributes[.transposeA] ?? false, tb = n.attributes[.transposeB] ?? false
        if n.inputType(0).rank == 2 && n.inputType(1).rank == 2 {
            w.add("Gemm", n.inputs, output: n.output,
                  attributes: [ONNXAttribute.int("transA", ta ? 1 : 0), ONNXAttribute.int("transB", tb ? 1 : 0)])
            return
        }
        func operand(_ i: Int, transposed: Bool) -> String {
            guard transposed else { return n.input(i) }
            let r = n.inputType(i).rank
            return w.add("Transpose", [n.input(i)], attributes: [ONNXAttribute.ints("perm", Array(0..<(r - 2)) + [r - 1, r - 2])])
        }
        w.add("MatMul", [operand(0, transposed: ta), operand(1, transposed: tb)], output: n.output)
    }
}
