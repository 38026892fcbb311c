// The weight gradient of a 3x3 convolution (stride 1, no dilation, no groups) taken through the
// 2x2 max pooling after it, in C for the same reason as conv_kernels.h: one binary carries
// AVX-512, AVX2+FMA and SSE2 code (chosen by gc_conv_isa()).
#ifndef GRAPHC_POOLED_GRAD_WEIGHT_KERNELS_H
#define GRAPHC_POOLED_GRAD_WEIGHT_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// Floats of scratch gc_pooled_grad_weight3x3 needs for `out_channels` output channels
/// (o_end - o_begin) of x with `in_channels` channels and a convolution output `height` x `width`.
long gc_pooled_grad_weight3x3_scratch(long in_channels, long out_channels, long height, long width);

/// dw[o] for output channels [o_begin, o_end) of w [out_channels, in_channels, 3, 3]:
/// conv2d_grad_weight(maxpool2d_grad(dp, y) {2x2 windows, stride 2, activation}, x, w) with
/// stride 1 and padding pad_h (top) and pad_w (left), x [images, in_channels, in_height,
/// in_width], y [images, out_channels, height, width] (both even), dp [images, out_channels,
/// height / 2, width / 2]. Each window's dp goes to its first maximum in scan order (a NaN wins,
/// the first one); with `relu`, a dp whose maximum is not above 0 is dropped. Each dw is summed
/// in an order fixed by the shapes alone (images, then rows of windows, 16 windows a lane
/// vector, the lanes added by one tree), so any split of the output channels gives the same bits.
/// `scratch` holds gc_pooled_grad_weight3x3_scratch(in_channels, o_end - o_begin, height, width) floats.
void gc_pooled_grad_weight3x3(const float *dp, const float *y, const float *x, float *dw, long images,
                              long in_channels, long out_channels, long in_height, long in_width, long height,
                              long width, long pad_h, long pad_w, int relu, float *scratch, long o_begin, long o_end);

/// The most input channels gc_conv3x3_pool2 and gc_recomputed_pooled_grad_weight3x3 take
/// (they recompute the convolution per window: cheap only for few input channels).
#define GC_PC_MAX_IN_CHANNELS 4

/// Floats of scratch gc_conv3x3_pool2 needs (one image's input planes, deinterleaved).
long gc_conv3x3_pool2_scratch(long in_channels, long height, long width);

/// y [images, out_channels, height / 2, width / 2] for images [n_begin, n_end): the 2x2
/// stride-2 max pooling (a NaN wins) of activation(conv2d(x, w) + bias) with w
/// [out_channels, in_channels <= GC_PC_MAX_IN_CHANNELS, 3, 3], stride 1, padding pad_h (top)
/// and pad_w (left), x [images, in_channels, in_height, in_width], the convolution's output
/// height x width (both even); activation relu when `relu`, else none; bias may be NULL (0).
/// Each value is a function of its window alone (no split changes a bit), and the same bits as
/// gc_recomputed_pooled_grad_weight3x3 recomputes. `scratch`: gc_conv3x3_pool2_scratch floats.
void gc_conv3x3_pool2(const float *x, const float *w, const float *bias, float *y, long in_channels, long out_channels,
                      long in_height, long in_width, long height, long width, long pad_h, long pad_w, int relu,
                      float *scratch, long n_begin, long n_end);

/// Floats of scratch gc_recomputed_pooled_grad_weight3x3 needs for `out_channels` output channels.
long gc_recomputed_pooled_grad_weight3x3_scratch(long in_channels, long out_channels, long height, long width);

/// gc_pooled_grad_weight3x3 with y = activation(conv2d(x, w) + bias) (as gc_conv3x3_pool2
/// computes it, bit for bit) recomputed per window instead of read; the same order of sums.
/// in_channels <= GC_PC_MAX_IN_CHANNELS; bias may be NULL (0).
void gc_recomputed_pooled_grad_weight3x3(const float *dp, const float *x, const float *w, const float *bias, float *dw,
                                         long images, long in_channels, long out_channels, long in_height,
                                         long in_width, long height, long width, long pad_h, long pad_w, int relu,
                                         float *scratch, long o_begin, long o_end);

#ifdef __cplusplus
}
#endif
#endif
