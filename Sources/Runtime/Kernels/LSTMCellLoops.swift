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

/// `lstm_cell_grad` (dc nil: the gates' gradient) and `lstm_cell_state_grad` (c and dgates
/// nil): CConvKernels' gc_lstm_cell_backward, one pass over the rows of Y and its gradient,
/// `dy` [..., 7H] or `split` (dh, dc') [..., H] each.
func lstmCellBackward(y: TensorView, dy: TensorView?, split: (dh: TensorView, dc: TensorView)?, c: TensorView?,
                      dgates: TensorView?, dc: TensorView?) {
    guard let w = y.shape.last, w > 0 else { return }
    let h = w / LSTMCellOp.blocks
    gc_lstm_cell_backward(y.f32, dy?.f32, split?.dh.f32, split?.dc.f32, c?.f32, dgates?.f32, dc?.f32, y.count / w, h)
}
