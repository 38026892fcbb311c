// Runtime dispatch over the compilations of conv_pool_body.h (instantiate_isa.h): the blocked
// convolution with 2x2 stride-2 max pooling applied as it stores, so that the full-resolution
// activation is never written; the instruction set is the one gc_conv_isa() reports.
#include "conv_kernels.h"
#include "conv_vectors.h"

#define GC_ISA_BODY "conv_pool_body.h"
#include "instantiate_isa.h"

static long pool_tile_blocks(void) {
    switch (gc_conv_isa()) {
#ifdef GC_X86
        case 3: return GC_AVX512_TILE_BLOCKS;
        case 2: return GC_AVX2_TILE_BLOCKS;
#endif
        default: return GC_BASE_TILE_BLOCKS;
    }
}

long gc_conv2d_maxpool_items(const gc_conv_geometry *g) {
    const long t = pool_tile_blocks();
    return (g->out_blocks + t - 1) / t * (g->out_height / 2);
}

void gc_conv2d_maxpool(const gc_conv_geometry *g, const float *x, const float *packed_weight, const float *scale,
                       const float *shift, float *y, long image, long begin, long end) {
    switch (gc_conv_isa()) {
#ifdef GC_X86
        case 3: conv2d_maxpool_avx512(g, x, packed_weight, scale, shift, y, image, begin, end); return;
        case 2: conv2d_maxpool_avx2(g, x, packed_weight, scale, shift, y, image, begin, end); return;
#endif
        default: conv2d_maxpool_base(g, x, packed_weight, scale, shift, y, image, begin, end); return;
    }
}
