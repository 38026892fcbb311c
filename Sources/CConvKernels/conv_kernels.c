// Runtime dispatch over three compilations of conv_kernels_body.h (instantiate_isa.h): AVX-512F,
// AVX2+FMA, and the SSE2 every x86-64 has: the blocked convolution, stored plain or with 2x2
// stride-2 max pooling applied as it stores (the full-resolution activation never written),
// and the blocked max pooling. The build never assumes more than the baseline;
// functions get their instruction set from a target attribute and run only when the CPU reports it.
#include "conv_kernels.h"
#include "conv_vectors.h"

/// Input blocks [begin, end) of one pass over a run of rows; the first pass starts the sums
/// from zero, the last applies the epilogue.
typedef struct { long begin, end; int first, last; } gc_chunk;

/// Input blocks per pass: as many as keep the pass's weights (for `blocks` output blocks)
/// within about 40 KB, a first-level cache's worth.
static inline long gc_input_chunk(const gc_conv_geometry *g, long blocks) {
    const long per_block = g->kernel_h * g->kernel_w * g->in_block * 16 * (long)sizeof(float) * blocks;
    const long n = 40960 / (per_block > 0 ? per_block : 1);
    return n < 1 ? 1 : n;
}

/// Rows per run: as many as keep the run's partial sums within about 256 KB (second-level cache).
static inline long gc_row_run(const gc_conv_geometry *g, long blocks) {
    const long per_row = g->out_width * 16 * (long)sizeof(float) * blocks;
    const long n = 262144 / (per_row > 0 ? per_row : 1);
    return n < 1 ? 1 : n;
}

#define GC_ISA_BODY "conv_kernels_body.h"
#include "instantiate_isa.h"

int gc_conv_best_isa(void) {
#ifdef GC_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) return 3;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
#endif
    return 1;
}

static int chosen_isa = 0;

int gc_conv_isa(void) {
    int isa = __atomic_load_n(&chosen_isa, __ATOMIC_RELAXED);
    if (isa == 0) {
        isa = gc_conv_best_isa();
        __atomic_store_n(&chosen_isa, isa, __ATOMIC_RELAXED);
    }
    return isa;
}

int gc_conv_set_isa(int isa) {
    const int best = gc_conv_best_isa();
    const int use = isa <= 0 || isa > best ? best : isa;
    __atomic_store_n(&chosen_isa, use, __ATOMIC_RELAXED);
    return use;
}

static long tile_blocks(void) {
    switch (gc_conv_isa()) {
#ifdef GC_X86
        case 3: return GC_AVX512_TILE_BLOCKS;
#endif
        default: return 1;
    }
}

long gc_conv2d_blocked_items(const gc_conv_geometry *g) {
    const long t = tile_blocks();
    return (g->out_blocks + t - 1) / t * g->out_height;
}

void gc_conv2d_blocked(const gc_conv_geometry *g, const float *x, const float *packed_weight, const float *scale,
                       const float *shift, const float *residual, float *y, long image, long begin, long end) {
    GC_DISPATCH(conv2d_blocked, g, x, packed_weight, scale, shift, residual, y, image, begin, end)
}

long gc_conv2d_maxpool_items(const gc_conv_geometry *g) {
    const long t = tile_blocks();
    return (g->out_blocks + t - 1) / t * (g->out_height / 2);
}

void gc_conv2d_maxpool(const gc_conv_geometry *g, const float *x, const float *packed_weight, const float *scale,
                       const float *shift, float *y, long image, long begin, long end) {
    GC_DISPATCH(conv2d_maxpool, g, x, packed_weight, scale, shift, y, image, begin, end)
}

void gc_maxpool2d_blocked(const float *x, float *y, long height, long width, long out_height, long out_width,
                          long kernel_h, long kernel_w, long stride_h, long stride_w, long pad_h, long pad_w,
                          long begin, long end) {
    GC_DISPATCH(maxpool2d_blocked, x, y, height, width, out_height, out_width, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, begin, end)
}

void gc_pack_conv_weight(const float *w, float *packed, long out_channels, long in_channels, long kernel_h, long kernel_w,
                         long in_block, long begin, long end) {
    const long taps = kernel_h * kernel_w, in_blocks = in_channels / in_block;
    for (long ob = begin; ob < end; ob++)
        for (long cb = 0; cb < in_blocks; cb++)
            for (long t = 0; t < taps; t++)
                for (long ic = 0; ic < in_block; ic++) {
                    float *dst = packed + (((ob * in_blocks + cb) * taps + t) * in_block + ic) * 16;
                    const float *src = w + ((ob * 16) * in_channels + cb * in_block + ic) * taps + t;
                    for (long oc = 0; oc < 16; oc++) dst[oc] = src[oc * in_channels * taps];
                }
    (void)out_channels;
}

void gc_reorder_to_blocked(const float *x, float *y, long channels, long plane, long begin, long end) {
    const long blocks = channels / 16;
    for (long p = begin; p < end; p++) {
        const long image = p / blocks, cb = p % blocks;
        const float *src = x + (image * channels + cb * 16) * plane;
        float *dst = y + p * plane * 16;
        for (long i = 0; i < plane; i++)
            for (long c = 0; c < 16; c++) dst[i * 16 + c] = src[c * plane + i];
    }
}

void gc_reorder_from_blocked(const float *x, float *y, long channels, long plane, long begin, long end) {
    const long blocks = channels / 16;
    for (long p = begin; p < end; p++) {
        const long image = p / blocks, cb = p % blocks;
        const float *src = x + p * plane * 16;
        float *dst = y + (image * channels + cb * 16) * plane;
        for (long c = 0; c < 16; c++)
            for (long i = 0; i < plane; i++) dst[c * plane + i] = src[i * 16 + c];
    }
}
