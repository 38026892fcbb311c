// Runtime dispatch over the compilations of conv_grad_weight_body.h (instantiate_isa.h:
// AVX-512F, AVX2+FMA, SSE2) by the instruction set gc_conv_isa() reports, and the packing.
#include "conv_grad_kernels.h"
#include "conv_kernels.h"
#include "transpose16.h"

static long padded_height(const gc_grad_weight_geometry *g) {
    return (g->out_height - 1) * g->stride_h + (g->kernel_h - 1) * g->dilation_h + 1;
}

static long padded_width(const gc_grad_weight_geometry *g) {
    return (g->out_width - 1) * g->stride_w + (g->kernel_w - 1) * g->dilation_w + 1;
}

static long padded_image(const gc_grad_weight_geometry *g) {
    return g->channels * padded_height(g) * padded_width(g);
}

static long transposed_image(const gc_grad_weight_geometry *g) {
    return g->out_height * g->out_width * ((g->out_channels + 15) / 16 * 16);
}

#define GC_ISA_BODY "conv_grad_weight_body.h"
#include "instantiate_isa.h"

static long tile_columns(void) {
    switch (gc_conv_isa()) {
#ifdef GC_X86
        case 3: return GC_AVX512_TILE_POSITIONS;
        case 2: return GC_AVX2_TILE_POSITIONS;
#endif
        default: return GC_BASE_TILE_POSITIONS;
    }
}

static void transpose_dy(const float *dy, float *dyt, long channels, long positions, long lanes) {
    GC_DISPATCH(transpose_dy, dy, dyt, channels, positions, lanes)
}

void gc_pad_planes(const float *x, float *xp, long planes, long height, long width, long pad_h, long pad_w,
                   long padded_height, long padded_width) {
    // The padded columns q whose source column q - pad_w lies inside the plane.
    long lo = pad_w, hi = pad_w + width;
    if (lo > padded_width) lo = padded_width;
    if (hi > padded_width) hi = padded_width;
    for (long p = 0; p < planes; p++)
        for (long r = 0; r < padded_height; r++) {
            float *row = xp + (p * padded_height + r) * padded_width;
            const long src = r - pad_h;
            if (src < 0 || src >= height || hi <= lo) {
                for (long q = 0; q < padded_width; q++) row[q] = 0;
                continue;
            }
            for (long q = 0; q < lo; q++) row[q] = 0;
            __builtin_memcpy(row + lo, x + (p * height + src) * width + lo - pad_w, (size_t)(hi - lo) * sizeof(float));
            for (long q = hi; q < padded_width; q++) row[q] = 0;
        }
}

/// x padded with the zeros the taps read, dy transposed, for images [begin, end).
static void pack(const gc_grad_weight_geometry *g, const float *x, const float *dy, float *xp, float *dyt, long begin,
                 long end) {
    const long plane = g->height * g->width, out_plane = g->out_height * g->out_width;
    const long lanes = (g->out_channels + 15) / 16 * 16;
    for (long n = begin; n < end; n++) {
        gc_pad_planes(x + n * g->channels * plane, xp + n * padded_image(g), g->channels, g->height, g->width, g->pad_h,
                      g->pad_w, padded_height(g), padded_width(g));
        transpose_dy(dy + n * g->out_channels * out_plane, dyt + n * transposed_image(g), g->out_channels, out_plane,
                     lanes);
    }
}

static void tile_sum(const gc_grad_weight_geometry *g, const float *xp, const float *dyt, float *dw, long tile, long begin,
                     long end) {
    GC_DISPATCH(grad_weight_tile, g, xp, dyt, dw, tile, begin, end)
}

long gc_grad_weight_group_images(const gc_grad_weight_geometry *g, long images) {
    const long per_image = padded_image(g) + transposed_image(g);
    long fit = 65536 / (per_image > 0 ? per_image : 1);
    if (fit < 1) fit = 1;
    const long spread = (images + 7) / 8;
    return spread < fit ? (spread < 1 ? 1 : spread) : fit;
}

long gc_grad_weight_scratch(const gc_grad_weight_geometry *g, long images) {
    return images * (padded_image(g) + transposed_image(g));
}

void gc_grad_weight_images(const gc_grad_weight_geometry *g, const float *x, const float *dy, float *scratch,
                           float *dw, long begin, long end) {
    const long count = end - begin;
    if (count <= 0) return;
    float *xp = scratch, *dyt = scratch + count * padded_image(g);
    pack(g, x + begin * g->channels * g->height * g->width, dy + begin * g->out_channels * g->out_height * g->out_width,
         xp, dyt, 0, count);
    const long columns = g->channels * g->kernel_h * g->kernel_w, per_tile = tile_columns();
    for (long t = 0; t * per_tile < columns; t++) tile_sum(g, xp, dyt, dw, t, 0, count);
}
