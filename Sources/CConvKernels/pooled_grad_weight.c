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

/// xb[R][T][j] = plane[R - pad_h][2j + T - pad_w] for R in [0, h + 2), T in [0, 4), j in
/// [0, padded): the input under position (2i + di, 2j + dj) of a 3x3 stride-1 convolution's
/// output (h rows), tap (ky, kx), is xb[2i + di + ky][dj + kx][j]; 0 outside the plane
/// (ih x iw) and for j at or past the pooled width ow.
static void gc_pg_deinterleave(const float *plane, float *xb, long ih, long iw, long h, long pad_h, long pad_w,
                               long ow, long padded) {
    const long rowStride = 4 * padded;
    for (long r = 0; r < h + 2; r++) {
        const long xr = r - pad_h;
        for (long t = 0; t < 4; t++) {
            float *dst = xb + r * rowStride + t * padded;
            // Columns 2j + t - pad_w inside x for j in [first, last).
            const long offset = t - pad_w;
            long first = offset >= 0 ? 0 : (1 - offset) / 2;
            long last = iw - offset > 0 ? (iw - offset + 1) / 2 : 0;
            if (last > ow) last = ow;
            if (xr < 0 || xr >= ih || first > last) first = last = 0;
            for (long j = 0; j < first; j++) dst[j] = 0;
            for (long j = first; j < last; j++) dst[j] = plane[xr * iw + 2 * j + offset];
            for (long j = last; j < padded; j++) dst[j] = 0;
        }
    }
}

long gc_conv3x3_pool2_scratch(long in_channels, long height, long width) {
    return in_channels * (height + 2) * 4 * gc_pg_blocks(width / 2) * GC_PG_LANES;
}

long gc_recomputed_pooled_grad_weight3x3_scratch(long in_channels, long out_channels, long height, long width) {
    return out_channels * in_channels * 9 * GC_PG_LANES + gc_conv3x3_pool2_scratch(in_channels, height, width);
}

#define GC_ISA_BODY "pooled_grad_weight_body.h"
#include "instantiate_isa.h"

void gc_pooled_grad_weight3x3(const float *dp, const float *y, const float *x, float *dw, long images,
                              long in_channels, long out_channels, long in_height, long in_width, long height,
                              long width, long pad_h, long pad_w, int relu, float *scratch, long o_begin, long o_end) {
    GC_DISPATCH(pooled_grad_weight3x3, dp, y, x, dw, images, in_channels, out_channels, in_height, in_width, height,
                width, pad_h, pad_w, relu, scratch, o_begin, o_end)
}

void gc_conv3x3_pool2(const float *x, const float *w, const float *bias, float *y, long in_channels, long out_channels,
                      long in_height, long in_width, long height, long width, long pad_h, long pad_w, int relu,
                      float *scratch, long n_begin, long n_end) {
    GC_DISPATCH(conv3x3_pool2, x, w, bias, y, in_channels, out_channels, in_height, in_width, height, width, pad_h, pad_w,
                relu, scratch, n_begin, n_end)
}

void gc_recomputed_pooled_grad_weight3x3(const float *dp, const float *x, const float *w, const float *bias, float *dw,
                                         long images, long in_channels, long out_channels, long in_height,
                                         long in_width, long height, long width, long pad_h, long pad_w, int relu,
                                         float *scratch, long o_begin, long o_end) {
    GC_DISPATCH(recomputed_pooled_grad_weight3x3, dp, x, w, bias, dw, images, in_channels, out_channels, in_height,
                in_width, height, width, pad_h, pad_w, relu, scratch, o_begin, o_end)
}
