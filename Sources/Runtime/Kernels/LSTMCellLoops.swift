import CConvKernels
import GraphIR
/// `lstm_cell`: per row, gates [4H] and c [H] in, [h | c' | i | f | g | o | tanh c'] out,
/// with the same activation functions, to the bit, as the unfused sigmoid and tanh kernels
/// (GraphIR's fastSigmoid and fastTanh). CConvKernels' gc_lstm_cell_forward runs it, per
/// instruction set, sixteen hidden units of all seven blocks at a time.
func lstmCellForward(gates: TensorView, c: TensorView, into out: TensorView) {
    guard let h = c.shape.last, h > 0 else { return }
    gc_lstm_cell_forward(gates.f32, c.f32, out.f32, c.count / h, h)
}
