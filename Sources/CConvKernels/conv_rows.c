// Runtime dispatch over the compilations of conv_rows_body.h (instantiate_isa.h): the
// row-vectorised convolution and weight gradient for few input channels.
#include "conv_rows_kernels.h"
#include "conv_grad_kernels.h"
#include "conv_kernels.h"
#include "conv_vectors.h"

/// Floats per padded row: every column a vector of 16 from any output column reads.
static inline long gc_rows_padded_width(const gc_rows_geometry *g) {
    return (g->out_width > 16 ? g->out_width : 16) + g->kernel_w - 1;
}

#define GC_ISA_BODY "conv_rows_body.h"
#include "instantiate_isa.h"

long gc_conv2d_rows_scratch(const gc_rows_geometry *g) {
    return g->channels * g->height * gc_rows_padded_width(g);
}

long gc_conv2d_rows_weights(const gc_rows_geometry *g) {
    return g->out_channels * g->channels * g->kernel_h * g->kernel_w;
}

void gc_conv2d_rows_pack(const gc_rows_geometry *g, const float *weight, float *packed) {
    const long outs = g->out_channels, taps = g->channels * g->kernel_h * g->kernel_w;
    for (long o = 0; o < outs; o++)
        for (long t = 0; t < taps; t++) packed[t * outs + o] = weight[o * taps + t];
}

void gc_conv2d_rows(const gc_rows_geometry *g, const float *x, const float *packed, const float *bias, float *y,
                    float *scratch, long begin, long end) {
    GC_DISPATCH(conv2d_rows, g, x, packed, bias, y, scratch, begin, end)
}

long gc_grad_weight_rows_scratch(const gc_rows_geometry *g) {
    const long narrow_dy = g->out_width < 16 ? g->out_channels * g->out_height * 16 : 0;
    return gc_conv2d_rows_scratch(g) + narrow_dy + gc_conv2d_rows_weights(g) * 16;
}

void gc_grad_weight_rows(const gc_rows_geometry *g, const float *x, const float *dy, float *dw, float *scratch, long begin,
                         long end) {
    GC_DISPATCH(grad_weight_rows, g, x, dy, dw, scratch, begin, end)
}
