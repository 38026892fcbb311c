// The blocked convolution (stored plain, or 2x2 max-pooled as it stores) and the blocked
// max pooling, compiled once per instruction set by conv_kernels.c: it defines ISA (a name
// suffix), TILE_POSITIONS and TILE_BLOCKS (the register tile: output positions x
// output-channel blocks, sized to the ISA's register file) and FMA(a, b, c) (a + b * c)
// before including this file inside a `#pragma clang attribute` target region.
// Each 16-channel block is one `v16`; the compiler splits it into 1, 2 or 4 registers.
// The pooled convolution sums in the same order as the plain one (its one pass over every
// input block is the plain one's passes with the partial sums kept in registers rather
// than in y), so each pooled value is bit for bit the unfused one's.

#define GC_CAT2(a, b) a##_##b
#define GC_CAT(a, b) GC_CAT2(a, b)
#define GC_NAME(n) GC_CAT(n, ISA)
/// Positions of a one-block tile: as many accumulators as a tile of TILE_BLOCKS blocks has
/// (one output block leaves the registers of the others to more positions).
#define ONE_BLOCK_POSITIONS (TILE_POSITIONS * TILE_BLOCKS)

/// The pooled store of a tile's sums `acc` (see conv_tile).
static inline __attribute__((always_inline)) void GC_NAME(pool_store)(
    const gc_conv_geometry *g, const float *scale, const float *shift, float *y, v16 acc[TILE_BLOCKS][ONE_BLOCK_POSITIONS],
    long ob, long oh, long ow0, const int count, const int blocks)
{
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

/// One tile: `count` output positions from `ow0` of row `oh`, `blocks` output-channel blocks
/// from `ob`, summed over the chunk's input blocks and every kernel tap. `checked`: some
/// positions' taps fall in the left or right padding (the edge positions, taken one at a time).
/// The store, a constant at each call: with `pooled` 0, y has the convolution's shape and
/// holds the partial sums until the last chunk, which applies scale, shift, residual and
/// activation; with `pooled` 1 (one chunk of every input block, no residual), y is pooled
/// [O/16, out_height/2, out_width/2, 16] and each value, after scale, shift and activation,
/// is max-pooled into cell (oh / 2, ow / 2): the cell's first value (row and column even) is
/// stored, later ones taken by max, so a cell is complete once both its rows are done.
static inline __attribute__((always_inline)) void GC_NAME(conv_tile)(
    const gc_conv_geometry *g, const float *x, const float *w, const float *scale, const float *shift,
    const float *residual, float *y, long ob, long oh, long ow0, const gc_chunk chunk,
    const int count, const int blocks, const int ib, const int checked, const int unit_stride, const int pooled)
{
    v16 acc[TILE_BLOCKS][ONE_BLOCK_POSITIONS];
    for (int j = 0; j < blocks; j++) {
        const long row = ((ob + j) * g->out_height + oh) * g->out_width;
        for (int q = 0; q < count; q++)
            acc[j][q] = pooled || chunk.first ? (v16){0} : *(const v16u *)(y + (row + ow0 + q) * 16);
    }
    const long kh = g->kernel_h, kw = g->kernel_w, sw = unit_stride ? 1 : g->stride_w;
    const long plane = g->height * g->width * ib;
    const long block_weights = g->in_blocks * kh * kw * ib * 16;   // one output block's
    const long iw0 = ow0 * sw - g->pad_w;
    for (long cb = chunk.begin; cb < chunk.end; cb++) {
        const float *xc = x + cb * plane;
        const float *wc = w + ob * block_weights + cb * kh * kw * ib * 16;
        for (long ki = 0; ki < kh; ki++) {
            const long ih = oh * g->stride_h - g->pad_h + ki;
            if (ih < 0 || ih >= g->height) continue;
            const float *xrow = xc + ih * g->width * ib;
            for (long kj = 0; kj < kw; kj++) {
                if (checked) {
                    const long iw = iw0 + kj;   // count is 1 on checked tiles
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
    if (pooled) {
        GC_NAME(pool_store)(g, scale, shift, y, acc, ob, oh, ow0, count, blocks);
        return;
    }
    for (int j = 0; j < blocks; j++) {
        const v16 s = *(const v16u *)(scale + (ob + j) * 16), t = *(const v16u *)(shift + (ob + j) * 16);
        const long row = ((ob + j) * g->out_height + oh) * g->out_width;
        for (int q = 0; q < count; q++) {
            const long at = (row + ow0 + q) * 16;
            if (!chunk.last) { *(v16u *)(y + at) = acc[j][q]; continue; }
            v16 v = t + acc[j][q] * s;
            if (residual) v += *(const v16u *)(residual + at);
            if (g->relu) v = relu16(v);
            *(v16u *)(y + at) = v;
        }
    }
}

/// Tiles of up to TILE_POSITIONS positions (ONE_BLOCK_POSITIONS with one block) with the
/// count a constant, so that every tile's accumulators stay in registers.
static inline __attribute__((always_inline)) void GC_NAME(conv_partial)(
    const gc_conv_geometry *g, const float *x, const float *w, const float *scale, const float *shift,
    const float *residual, float *y, long ob, long oh, long ow0, const gc_chunk chunk, int count, const int blocks, const int ib,
    const int unit_stride, const int pooled)
{
    const int limit = blocks == 1 ? ONE_BLOCK_POSITIONS : TILE_POSITIONS;
    switch (count) {
#define GC_PARTIAL(n) case n: if ((n) <= limit) GC_NAME(conv_tile)(g, x, w, scale, shift, residual, y, ob, oh, ow0, chunk, (n) <= limit ? (n) : 1, blocks, ib, 0, unit_stride, pooled); break;
        GC_PARTIAL(1) GC_PARTIAL(2) GC_PARTIAL(3) GC_PARTIAL(4) GC_PARTIAL(5) GC_PARTIAL(6) GC_PARTIAL(7)
        GC_PARTIAL(8) GC_PARTIAL(9) GC_PARTIAL(10) GC_PARTIAL(11) GC_PARTIAL(12) GC_PARTIAL(13) GC_PARTIAL(14)
        GC_PARTIAL(15) GC_PARTIAL(16) GC_PARTIAL(17) GC_PARTIAL(18) GC_PARTIAL(19) GC_PARTIAL(20) GC_PARTIAL(21)
        GC_PARTIAL(22) GC_PARTIAL(23) GC_PARTIAL(24)
#undef GC_PARTIAL
        default: break;
    }
}

/// One output row of `blocks` output blocks: edge positions one by one with bounds checks,
/// the interior in full tiles and one partial tile (one block: in tiles of near-equal
/// counts up to ONE_BLOCK_POSITIONS, so that no short tile waits on its few accumulators'
/// latency); pooled, the columns no cell takes (an odd width's last) are left out.
static inline __attribute__((always_inline)) void GC_NAME(conv_row)(
    const gc_conv_geometry *g, const float *x, const float *w, const float *scale, const float *shift,
    const float *residual, float *y, long ob, long oh, const gc_chunk chunk, const int blocks, const int ib,
    const int unit_stride, const int pooled)
{
    const long ow_n = pooled ? g->out_width / 2 * 2 : g->out_width, sw = g->stride_w, pw = g->pad_w;
    // Interior: ow*sw - pw >= 0 and ow*sw - pw + kw - 1 < width.
    long lo = (pw + sw - 1) / sw;
    long hi = g->width - g->kernel_w + pw >= 0 ? (g->width - g->kernel_w + pw) / sw + 1 : 0;
    if (lo > ow_n) lo = ow_n;
    if (hi > ow_n) hi = ow_n;
    if (hi < lo) hi = lo;
    for (long ow = 0; ow < lo; ow++)
        GC_NAME(conv_tile)(g, x, w, scale, shift, residual, y, ob, oh, ow, chunk, 1, blocks, ib, 1, unit_stride, pooled);
    // One call site of conv_partial (it inlines a tile per count): a full tile of several
    // blocks is its case TILE_POSITIONS.
    const long n = hi - lo, per_tile = blocks == 1 ? ONE_BLOCK_POSITIONS : TILE_POSITIONS;
    const long tiles = (n + per_tile - 1) / per_tile;
    for (long t = 0; t < tiles; t++) {
        const long a = blocks == 1 ? lo + n * t / tiles : lo + t * per_tile;
        const long b = blocks == 1 ? lo + n * (t + 1) / tiles : (a + per_tile < hi ? a + per_tile : hi);
        GC_NAME(conv_partial)(g, x, w, scale, shift, residual, y, ob, oh, a, chunk, (int)(b - a), blocks, ib, unit_stride, pooled);
    }
    for (long ow = hi; ow < ow_n; ow++)
        GC_NAME(conv_tile)(g, x, w, scale, shift, residual, y, ob, oh, ow, chunk, 1, blocks, ib, 1, unit_stride, pooled);
}

/// conv_row with constant block counts, input blocks, unit stride and store: each
/// combination compiles to its own loop nest with the tile's accumulators in registers.
/// `two`: TILE_BLOCKS output blocks from `ob` (else one).
static inline __attribute__((always_inline)) void GC_NAME(conv_row_of)(
    const gc_conv_geometry *g, const float *x, const float *w, const float *scale, const float *shift,
    const float *residual, float *y, long ob, long oh, const gc_chunk chunk, const int two, const int pooled)
{
    const int unit = g->stride_w == 1;
#define GC_ROW(blocks, ib, u) GC_NAME(conv_row)(g, x, w, scale, shift, residual, y, ob, oh, chunk, blocks, ib, u, pooled)
    if (g->in_block == 16) {
        if (two) { if (unit) GC_ROW(TILE_BLOCKS, 16, 1); else GC_ROW(TILE_BLOCKS, 16, 0); }
        else { if (unit) GC_ROW(1, 16, 1); else GC_ROW(1, 16, 0); }
    } else if (g->in_block == 1) {
        if (two) GC_ROW(TILE_BLOCKS, 1, 0); else GC_ROW(1, 1, 0);
    }
#undef GC_ROW
}

/// Items are (output-block group, output row) of one image, rows fastest. A run of rows of
/// one group is computed a chunk of input blocks at a time (the chunk's weights stay in the
/// first-level cache while every row of the run uses them), partial sums kept in y.
static void GC_NAME(conv2d_blocked)(const gc_conv_geometry *g, const float *x, const float *w,
                                    const float *scale, const float *shift, const float *residual, float *y,
                                    long image, long begin, long end)
{
    const long in_image = g->in_blocks * g->in_block * g->height * g->width;
    const long out_image = g->out_blocks * 16 * g->out_height * g->out_width;
    x += image * in_image;
    y += image * out_image;
    if (residual) residual += image * out_image;
    const long cb_chunk = gc_input_chunk(g, TILE_BLOCKS), rows = gc_row_run(g, TILE_BLOCKS);
    for (long start = begin; start < end;) {
        const long group = start / g->out_height;
        long stop = (group + 1) * g->out_height;
        if (stop > end) stop = end;
        if (stop > start + rows) stop = start + rows;
        const long ob = group * TILE_BLOCKS;
        const int two = TILE_BLOCKS > 1 && ob + 1 < g->out_blocks;
        for (long cb = 0; cb < g->in_blocks; cb += cb_chunk) {
            const gc_chunk chunk = { cb, cb + cb_chunk < g->in_blocks ? cb + cb_chunk : g->in_blocks,
                                     cb == 0, cb + cb_chunk >= g->in_blocks };
            for (long item = start; item < stop; item++) {
                const long oh = item % g->out_height;
                GC_NAME(conv_row_of)(g, x, w, scale, shift, residual, y, ob, oh, chunk, two, 0);
            }
        }
        start = stop;
    }
}

/// Items are (output-block group, pooled row) of one image, rows fastest; an item computes
/// the two conv rows of its pooled row, in one pass over every input block.
static void GC_NAME(conv2d_maxpool)(const gc_conv_geometry *g, const float *x, const float *w,
                                    const float *scale, const float *shift, float *y,
                                    long image, long begin, long end)
{
    const long pooled_h = g->out_height / 2;
    x += image * g->in_blocks * g->in_block * g->height * g->width;
    y += image * g->out_blocks * 16 * pooled_h * (g->out_width / 2);
    const gc_chunk whole = { 0, g->in_blocks, 1, 1 };
    for (long item = begin; item < end; item++) {
        const long ob = item / pooled_h * TILE_BLOCKS, ph = item % pooled_h;
        const int two = TILE_BLOCKS > 1 && ob + 1 < g->out_blocks;
        for (long oh = 2 * ph; oh < 2 * ph + 2; oh++)
            GC_NAME(conv_row_of)(g, x, w, scale, shift, NULL, y, ob, oh, whole, two, 1);
    }
}

static void GC_NAME(maxpool2d_blocked)(const float *x, float *y, long height, long width, long out_height, long out_width,
                                       long kernel_h, long kernel_w, long stride_h, long stride_w, long pad_h, long pad_w,
                                       long begin, long end)
{
    for (long p = begin; p < end; p++) {
        const float *in = x + p * height * width * 16;
        float *out = y + p * out_height * out_width * 16;
        for (long oh = 0; oh < out_height; oh++) {
            const long i0 = oh * stride_h - pad_h;
            const long ilo = i0 < 0 ? 0 : i0, ihi = i0 + kernel_h > height ? height : i0 + kernel_h;
            for (long ow = 0; ow < out_width; ow++) {
                const long j0 = ow * stride_w - pad_w;
                const long jlo = j0 < 0 ? 0 : j0, jhi = j0 + kernel_w > width ? width : j0 + kernel_w;
                v16 m = (v16){0} - __builtin_inff();
                for (long i = ilo; i < ihi; i++)
                    for (long j = jlo; j < jhi; j++) m = max_nan16(m, *(const v16u *)(in + (i * width + j) * 16));
                *(v16u *)(out + (oh * out_width + ow) * 16) = m;
            }
        }
    }
}

#undef ONE_BLOCK_POSITIONS
#undef GC_NAME
#undef GC_CAT
#undef GC_CAT2
