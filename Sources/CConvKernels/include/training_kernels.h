// Kernels of the training step's pooling (forward and backward), in C for the same reason as conv_kernels.h:
// one binary carries AVX-512, AVX2+FMA and SSE2 code (chosen by gc_conv_isa()).
#ifndef GRAPHC_TRAINING_KERNELS_H
#define GRAPHC_TRAINING_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// Max-pool backward for 2x2 windows, stride 2, no padding, over planes [begin, end) of
/// x [planes, height, width] (dx the same shape, dy [planes, out_height, out_width], with
/// 2 * out_height <= height and 2 * out_width <= width). Each dy goes to the first maximum of
/// its window in scan order (a NaN wins, the first one); every other element of dx, including
/// rows and columns no window covers, is written 0. With `relu`, a dy whose maximum is not
/// above 0 is dropped too: relu_grad(maxpool2d_grad(dy, x), x) in one pass.
void gc_maxpool2x2_backward(const float *x, const float *dy, float *dx, long height, long width,
                            long out_height, long out_width, int relu, long begin, long end);

/// Max-pool forward for 2x2 windows, stride 2, no padding, over planes [begin, end) of
/// x [planes, height, width] into y [planes, out_height, out_width] (2 * out_height <= height,
/// 2 * out_width <= width): each y is its window's maximum, `max(max(a, b), max(c, d))` with
/// `max(p, q) = q >= p ? q : p` over the window's a b / c d; NaN when the window holds a NaN.
void gc_maxpool2x2_forward(const float *x, float *y, long height, long width, long out_height, long out_width,
                           long begin, long end);

#ifdef __cplusplus
}
#endif
#endif
