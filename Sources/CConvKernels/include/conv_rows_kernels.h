// Convolutions and their weight gradients over the plain [N, C, H, W] layout for few input
// channels (a network's first layer: one grey or three colour planes), vectorised along the
// output row: 16 consecutive output columns of one channel per vector, the input planes padded
// along the width once per image so that every tap is an unaligned load. In C, compiled per
// instruction set like conv_kernels.h (AVX-512, AVX2+FMA, SSE2 chosen at run time).
#ifndef GRAPHC_CONV_ROWS_KERNELS_H
#define GRAPHC_CONV_ROWS_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// One convolution's geometry: one group, no dilation, unit stride along the width.
typedef struct {
    long channels, height, width;              // input planes of one image
    long out_channels, out_height, out_width;  // output planes
    long kernel_h, kernel_w, stride_h, pad_h, pad_w;
    int relu;                                  // apply max(0, .) last
} gc_rows_geometry;

/// Floats of scratch one worker needs for gc_conv2d_rows (its padded copy of one image).
long gc_conv2d_rows_scratch(const gc_rows_geometry *g);

/// Floats of the packed weights (O * C * kh * kw).
long gc_conv2d_rows_weights(const gc_rows_geometry *g);
/// Packs w [O, C, kh, kw] into [C, kh, kw, O], the layout gc_conv2d_rows reads.
void gc_conv2d_rows_pack(const gc_rows_geometry *g, const float *weight, float *packed);

/// y[n] = act(conv(x[n], w) (+ bias)) for images n in [begin, end): `packed` the weights as
/// gc_conv2d_rows_pack leaves them, bias [O] or NULL, x and y plain. Each output sums its taps
/// in (channel, row, column) order, then adds the bias: the same bits however the images are
/// split.
void gc_conv2d_rows(const gc_rows_geometry *g, const float *x, const float *packed, const float *bias, float *y,
                    float *scratch, long begin, long end);

/// Floats of scratch one worker needs for gc_grad_weight_rows.
long gc_grad_weight_rows_scratch(const gc_rows_geometry *g);

/// Writes (not adds) dw [O, C, kh, kw] summed over images [begin, end) of x [N, C, H, W] and dy
/// [N, O, OH, OW] (the geometry's relu unused; kernel columns 1 to 7, others leaving dw zero):
/// 16 columns of dy times the 16 columns each tap reads per vector FMA, each weight's 16 lanes
/// summed over the images, rows and vectors in order and then across lanes in a fixed order,
/// so the result depends on [begin, end) alone.
void gc_grad_weight_rows(const gc_rows_geometry *g, const float *x, const float *dy, float *dw, float *scratch, long begin,
                         long end);

#ifdef __cplusplus
}
#endif
#endif
