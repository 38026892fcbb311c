// Kernels of the caption decoders' training step, in C for the same reason as conv_kernels.h:
// one binary carries AVX-512, AVX2+FMA and SSE2 code (chosen by gc_conv_isa()). Every ISA gives
// the same bits: each element gets the operations of the Swift rules they replace, in order.
#ifndef GRAPHC_DECODER_KERNELS_H
#define GRAPHC_DECODER_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// `lstm_cell` over `rows` rows: gates [rows, 4h] (pre-activations i, f, g, o) and c [rows, h]
/// in, out [rows, 7h] as [h' | c' | i | f | g | o | tanh c'] with FastMath.swift's sigmoid and tanh.
void gc_lstm_cell_forward(const float *gates, const float *c, float *out, long rows, long h);

/// lstm_cell's backward over `rows` rows from its result y [rows, 7h], that result's gradient
/// dy [rows, 7h] (or, when dy is NULL, [dh | dcn | 0 ...] from dh and dcn [rows, h]) and the
/// previous cell state c [rows, h]: the gates' gradient into dgates [rows, 4h] unless NULL (c
/// is then read), the cell state's into dc [rows, h] unless NULL.
void gc_lstm_cell_backward(const float *y, const float *dy, const float *dh, const float *dcn, const float *c, float *dgates, float *dc,
                           long rows, long h);

/// One step's constants of Adam's element rule (Optimizers.swift's AdamRule).
typedef struct {
    float beta1, beta2, epsilon, weight_decay, step_size, c2_root, clip;
    int has_clip;
} gc_adam_constants;

/// Adam over n elements: g clamped to ±clip first when has_clip (NaN stays NaN), then
/// g += wd p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g g; p -= step m / (sqrt(v) / c2_root + eps).
/// g is only read.
void gc_adam_update(float *p, const float *g, float *m, float *v, long n, const gc_adam_constants *constants);

/// log_softmax along the last axis (n > 0) of rows [begin, end) of x [*, n] into y, with
/// FastMath.swift's exp, the exps summed in Double in index order: the bits of
/// DecoderStepLoops.swift's logSoftmaxLastAxis row loop. `scratch` holds 8 n floats.
void gc_log_softmax_rows(const float *x, float *y, float *scratch, long n, long begin, long end);

/// Rows begin..<end of log_softmax_grad along the last axis: dx = dy - exp(y) * Σ dy per row of
/// n, with FastMath.swift's exp, each row's sum in index order in double (the bits of
/// SoftmaxLoops.swift's general loop), eight rows at a time. dx may be dy or y (each element
/// is read before it is written, a group's sums before any of its rows), not overlap them
/// otherwise.
void gc_log_softmax_grad_rows(const float *dy, const float *y, float *dx, long n, long begin, long end);

/// y = exp(x) * scale over n elements with FastMath.swift's exp (fastExp(x) * scale in Swift).
void gc_exp_scaled(const float *x, float *y, long n, float scale);

#ifdef __cplusplus
}
#endif
#endif
