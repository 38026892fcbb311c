// The blocked convolution with 2x2 stride-2 max pooling in its store, compiled once per
// instruction set by conv_pool.c (through instantiate_isa.h: ISA, TILE_POSITIONS,
// TILE_BLOCKS, FMA). The sums are those of conv_kernels_body.h in the same order (one pass
// over every input block), so each pooled value is bit for bit the unfused one's.

#define GC_CAT2(a, b) a##_##b
#define GC_CAT(a, b) GC_CAT2(a, b)
#define GC_NAME(n) GC_CAT(n, ISA)

/// One tile of conv row `oh`: `count` positions from `ow0`, `blocks` output blocks from `ob`;
/// then scale, shift and activation, and each position's value max-pooled into the output
/// cell (oh / 2, ow / 2). The first value a cell gets (row oh even, column even) is stored,
/// later ones taken by max, so a cell is complete once both its rows are done. `checked`:
/// the position's taps may fall in the left or right padding (count is then 1).
static inline __attribute__((always_inline)) void GC_NAME(conv_pool_tile)(
    const gc_conv_geometry *g, const float *x, const float *w, const float *scale, const float *shift,
    float *y, long ob, long oh, long ow0, const int count, const int blocks, const int ib,
    const int checked, const int unit_stride)
{
    v16 acc[TILE_BLOCKS][TILE_POSITIONS];
    for (int j = 0; j < blocks; j++)
        for (int q = 0; q < count; q++) acc[j][q] = (v16){0};
    const long kh = g->kernel_h, kw = g->kernel_w, sw = unit_stride ? 1 : g->stride_w;
    const long plane = g->height * g->width * ib;
    const long block_weights = g->in_blocks * kh * kw * ib * 16;
    const long iw0 = ow0 * sw - g->pad_w;
    for (long cb = 0; cb < g->in_blocks; cb++) {
        const float *xc = x + cb * plane;
        const float *wc = w + ob * block_weights + cb * kh * kw * ib * 16;
        for (long ki = 0; ki < kh; ki++) {
            const long ih = oh * g->stride_h - g->pad_h + ki;
            if (ih < 0 || ih >= g->height) continue;
            const float *xrow = xc + ih * g->width * ib;
            for (long kj = 0; kj < kw; kj++) {
                if (checked) {
                    const long iw = iw0 + kj;
                    if (iw < 0 || iw >= g->width) continue;
                }
                const float *xp = xrow + (iw0 + kj) * ib;
                const float *wk = wc + (ki * kw + kj) * ib * 16;
                for (int ic = 0; ic < ib; ic++) {
                    v16 wv[TILE_BLOCKS];
                    for (int j = 0; j < blocks; j++) wv[j] = *(const v16u *)(wk + j * block_weights + ic * 16);
                    for (int q = 0; q < count; q++) {
                        const float xs = xp[q * sw * ib + ic];
                        for (int j = 0; j < blocks; j++) acc[j][q] = FMA(acc[j][q], wv[j], xs);
                    }
                }
            }
        }
    }
    const long pooled_h = g->out_height / 2, pooled_w = g->out_width / 2;
    const int first_row = oh % 2 == 0;
    for (int j = 0; j < blocks; j++) {
        const v16 s = *(const v16u *)(scale + (ob + j) * 16), t = *(const v16u *)(shift + (ob + j) * 16);
        float *row = y + ((ob + j) * pooled_h + oh / 2) * pooled_w * 16;
        for (int q = 0; q < count; q++) {
            const long ow = ow0 + q;
            if (ow >= 2 * pooled_w) break;   // an odd width's last column pools nowhere
            v16 v = t + acc[j][q] * s;
            if (g->relu) v = relu16(v);
            const int first = first_row && ow % 2 == 0;
            if (ow % 2 == 0 && q + 1 < count) {   // both columns of the cell in this tile
                v16 u = t + acc[j][q + 1] * s;
                if (g->relu) u = relu16(u);
                v = max_nan16(v, u);
                q++;
            }
            float *at = row + (ow / 2) * 16;
            *(v16u *)at = first ? v : max_nan16(*(const v16u *)at, v);
        }
    }
}

/// Tiles of fewer than TILE_POSITIONS positions with the count a constant (accumulators in registers).
static inline __attribute__((always_inline)) void GC_NAME(conv_pool_partial)(
    const gc_conv_geometry *g, const float *x, const float *w, const float *scale, const float *shift,
    float *y, long ob, long oh, long ow0, int count, const int blocks, const int ib, const int unit_stride)
{
    switch (count) {
#define GC_PARTIAL(n) case n: GC_NAME(conv_pool_tile)(g, x, w, scale, shift, y, ob, oh, ow0, (n) < TILE_POSITIONS ? (n) : TILE_POSITIONS, blocks, ib, 0, unit_stride); break;
        GC_PARTIAL(1) GC_PARTIAL(2) GC_PARTIAL(3) GC_PARTIAL(4) GC_PARTIAL(5) GC_PARTIAL(6) GC_PARTIAL(7)
        GC_PARTIAL(8) GC_PARTIAL(9) GC_PARTIAL(10) GC_PARTIAL(11) GC_PARTIAL(12) GC_PARTIAL(13)
#undef GC_PARTIAL
        default: break;
    }
}

/// One conv row, left to right: edge positions one by one with bounds checks, the interior in
/// full tiles and one partial tile (as conv_kernels_body.h's conv_row); columns no pooling
/// cell takes are left out.
static inline __attribute__((always_inline)) void GC_NAME(conv_pool_row)(
    const gc_conv_geometry *g, const float *x, const float *w, const float *scale, const float *shift,
    float *y, long ob, long oh, const int blocks, const int ib, const int unit_stride)
{
    const long ow_n = g->out_width / 2 * 2, sw = g->stride_w, pw = g->pad_w;
    long lo = (pw + sw - 1) / sw;
    long hi = g->width - g->kernel_w + pw >= 0 ? (g->width - g->kernel_w + pw) / sw + 1 : 0;
    if (lo > ow_n) lo = ow_n;
    if (hi > ow_n) hi = ow_n;
    if (hi < lo) hi = lo;
    for (long ow = 0; ow < lo; ow++)
        GC_NAME(conv_pool_tile)(g, x, w, scale, shift, y, ob, oh, ow, 1, blocks, ib, 1, unit_stride);
    long ow = lo;
    for (; ow + TILE_POSITIONS <= hi; ow += TILE_POSITIONS)
        GC_NAME(conv_pool_tile)(g, x, w, scale, shift, y, ob, oh, ow, TILE_POSITIONS, blocks, ib, 0, unit_stride);
    if (ow < hi) GC_NAME(conv_pool_partial)(g, x, w, scale, shift, y, ob, oh, ow, (int)(hi - ow), blocks, ib, unit_stride);
    for (ow = hi; ow < ow_n; ow++)
        GC_NAME(conv_pool_tile)(g, x, w, scale, shift, y, ob, oh, ow, 1, blocks, ib, 1, unit_stride);
}

/// Items are (output-block group, pooled row) of one image, rows fastest; an item computes
/// the two conv rows of its pooled row.
static void GC_NAME(conv2d_maxpool)(const gc_conv_geometry *g, const float *x, const float *w,
                                    const float *scale, const float *shift, float *y,
                                    long image, long begin, long end)
{
    const long pooled_h = g->out_height / 2;
    x += image * g->in_blocks * g->in_block * g->height * g->width;
    y += image * g->out_blocks * 16 * pooled_h * (g->out_width / 2);
    const int unit = g->stride_w == 1;
    for (long item = begin; item < end; item++) {
        const long ob = item / pooled_h * TILE_BLOCKS, ph = item % pooled_h;
        const int two = TILE_BLOCKS > 1 && ob + 1 < g->out_blocks;
        for (long oh = 2 * ph; oh < 2 * ph + 2; oh++) {
#define GC_ROW(blocks, ib, u) GC_NAME(conv_pool_row)(g, x, w, scale, shift, y, ob, oh, blocks, ib, u)
            if (g->in_block == 16) {
                if (two) { if (unit) GC_ROW(TILE_BLOCKS, 16, 1); else GC_ROW(TILE_BLOCKS, 16, 0); }
                else { if (unit) GC_ROW(1, 16, 1); else GC_ROW(1, 16, 0); }
            } else if (g->in_block == 1) {
                if (two) GC_ROW(TILE_BLOCKS, 1, 0); else GC_ROW(1, 1, 0);
            }
#undef GC_ROW
        }
    }
}

#undef GC_NAME
#undef GC_CAT
#undef GC_CAT2
