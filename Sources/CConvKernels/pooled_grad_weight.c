// Runtime dispatch over the compilations of pooled_grad_weight_body.h (instantiate_isa.h:
// AVX-512F, AVX2+FMA, SSE2), by the instruction set gc_conv_isa() reports.
#include "pooled_grad_weight_kernels.h"
#include "conv_kernels.h"
#include "conv_vectors.h"

// The per-ISA helpers take and return no vectors across a call (all are inlined).
#pragma clang diagnostic ignored "-Wpsabi"

/// Windows per lane vector, and the padded width of the deinterleaved input rows.
#define GC_PG_LANES 16
static long gc_pg_blocks(long out_width) { return (out_width + GC_PG_LANES - 1) / GC_PG_LANES; }

long gc_pooled_grad_weight3x3_scratch(long in_channels, long out_channels, long height, long width) {
    // The accumulators (9 lane vectors per output and input channel), then one input plane
    // deinterleaved: height + 2 rows x 4 column phases x the padded pooled width.
    return out_channels * in_channels * 9 * GC_PG_LANES + (height + 2) * 4 * gc_pg_blocks(width / 2) * GC_PG_LANES;
}

#define GC_ISA_BODY "pooled_grad_weight_body.h"
#include "instantiate_isa.h"

void gc_pooled_grad_weight3x3(const float *dp, const float *y, const float *x, float *dw, long images,
                              long in_channels, long out_channels, long in_height, long in_width, long height,
                              long width, long pad_h, long pad_w, int relu, float *scratch, long o_begin, long o_end) {
    GC_DISPATCH(pooled_grad_weight3x3, dp, y, x, dw, images, in_channels, out_channels, in_height, in_width, height,
                width, pad_h, pad_w, relu, scratch, o_begin, o_end)
}
