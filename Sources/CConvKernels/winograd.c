// Runtime dispatch over three compilations of winograd_body.h (AVX-512F, AVX2+FMA, SSE2), as
// conv_kernels.c does for the direct convolution; the instruction set is the one
// gc_conv_isa() reports (and tests limit).
#include "conv_kernels.h"
#include "winograd_kernels.h"
#include "conv_vectors.h"

// winograd_body.h takes at most 2 output blocks per register tile (a partial group is then 1).
#define GC_ISA_BODY "winograd_body.h"
#include "instantiate_isa.h"

static void register_tile(long *tiles, long *blocks) {
    switch (gc_conv_isa()) {
#ifdef GC_X86
        case 3: *tiles = GC_AVX512_TILE_POSITIONS; *blocks = GC_AVX512_TILE_BLOCKS; return;
        case 2: *tiles = GC_AVX2_TILE_POSITIONS; *blocks = GC_AVX2_TILE_BLOCKS; return;
#endif
        default: *tiles = GC_BASE_TILE_POSITIONS; *blocks = GC_BASE_TILE_BLOCKS; return;
    }
}

void gc_winograd_plan(gc_winograd_geometry *g, long threads) {
    long wt, wb;
    register_tile(&wt, &wb);
    g->tiles_h = (g->out_height + GC_WINOGRAD_TILE - 1) / GC_WINOGRAD_TILE;
    g->tiles_w = (g->out_width + GC_WINOGRAD_TILE - 1) / GC_WINOGRAD_TILE;
    const long tiles = g->tiles_h * g->tiles_w;
    // An item's scratch, its transformed input and one register tile of output blocks'
    // products (36 * 16 * (C/16 + blocks) floats per tile), within about 1.5 MB, a
    // second-level cache's worth; then the tiles split evenly among the blocks that takes.
    const long per_tile = GC_WINOGRAD_POINTS * 16 * (g->in_blocks + wb);
    long most = 196608 / (per_tile > 0 ? per_tile : 1);
    if (most < wt) most = wt;
    if (most > 10 * wt) most = 10 * wt;
    const long blocks = (tiles + most - 1) / most;
    g->tile_block = blocks > 0 ? (tiles + blocks - 1) / blocks : 1;
    if (g->tile_block < 1) g->tile_block = 1;
    // Output blocks split in groups (each item then transforms its tile block's input again)
    // only until there are two items per thread.
    if (threads < 1) threads = 1;
    long groups = 1;
    while (blocks * groups < 2 * threads && (g->out_blocks + 2 * groups - 1) / (2 * groups) >= wb) groups *= 2;
    long og = (g->out_blocks + groups - 1) / groups;
    og = (og + wb - 1) / wb * wb;
    g->out_group = og > g->out_blocks ? g->out_blocks : og;
    if (g->out_group < 1) g->out_group = 1;
}

int gc_winograd_plan_variant(gc_winograd_geometry *g, long threads, int variant) {
    gc_winograd_plan(g, threads);
    long wt, wb;
    register_tile(&wt, &wb);
    const long tiles = g->tiles_h * g->tiles_w, tb = g->tile_block, og = g->out_group;
    long half = (og + 1) / 2;
    half = (half + wb - 1) / wb * wb;
    switch (variant) {
        case 0: return 1;
        case 1: if (tb >= tiles) return 0; g->tile_block = 2 * tb < tiles ? 2 * tb : tiles; return 1;
        case 2: if (tb < 2 * wt) return 0; g->tile_block = (tb + 1) / 2; return 1;
        case 3: if (og >= g->out_blocks) return 0; g->out_group = g->out_blocks; return 1;
        case 4: if (half >= og) return 0; g->out_group = half; return 1;
        default: return 0;
    }
}

long gc_winograd_items(const gc_winograd_geometry *g) {
    const long tiles = g->tiles_h * g->tiles_w;
    return (tiles + g->tile_block - 1) / g->tile_block * ((g->out_blocks + g->out_group - 1) / g->out_group);
}

long gc_winograd_scratch_floats(const gc_winograd_geometry *g) {
    long wt, wb;
    register_tile(&wt, &wb);
    return GC_WINOGRAD_POINTS * 16 * g->tile_block * (g->in_blocks + wb);
}

void gc_winograd_conv2d(const gc_winograd_geometry *g, const float *x, const float *u, const float *scale,
                        const float *shift, const float *residual, float *y, float *scratch,
                        long image, long begin, long end) {
    GC_DISPATCH(winograd_conv2d, g, x, u, scale, shift, residual, y, scratch, image, begin, end)
}

void gc_winograd_weight_transform(const float *w, float *u, long out_channels, long in_channels, long begin, long end) {
    GC_DISPATCH(winograd_weight_transform, w, u, out_channels / 16, in_channels, begin, end)
}
