// Winograd F(4x4, 3x3), compiled once per instruction set by winograd.c: it defines ISA (a
// name suffix), TILE_POSITIONS and TILE_BLOCKS (the register tile of the batched products:
// tiles x output-channel blocks) and FMA(a, b, c) (a + b * c) before including this file
// inside a `#pragma clang attribute` target region. One `v16` is one block of 16 channels.

#define GC_CAT2(a, b) a##_##b
#define GC_CAT(a, b) GC_CAT2(a, b)
#define GC_NAME(n) GC_CAT(n, ISA)

/// B^T over six values d[0], d[ds], ... (a column or a row of a patch) into o[0], o[os], ...
static inline __attribute__((always_inline)) void GC_NAME(wino_bt)(const v16 *d, long ds, v16 *o, long os) {
    const v16 d0 = d[0], d1 = d[ds], d2 = d[2 * ds], d3 = d[3 * ds], d4 = d[4 * ds], d5 = d[5 * ds];
    const v16 two = SPLAT16(2.0f), four = SPLAT16(4.0f), five = SPLAT16(5.0f);
    const v16 a = d4 - d2, b = two * (d3 - d1);
    o[0] = four * d0 - five * d2 + d4;
    o[os] = (d3 + d4) - four * (d1 + d2);
    o[2 * os] = (d4 - d3) + four * (d1 - d2);
    o[3 * os] = a + b;
    o[4 * os] = a - b;
    o[5 * os] = four * d1 - five * d3 + d5;
}

/// A^T over six values m[0], m[ms], ... into four o[0], o[os], ...
static inline __attribute__((always_inline)) void GC_NAME(wino_at)(const v16 *m, long ms, v16 *o, long os) {
    const v16 m0 = m[0], m1 = m[ms], m2 = m[2 * ms], m3 = m[3 * ms], m4 = m[4 * ms], m5 = m[5 * ms];
    const v16 two = SPLAT16(2.0f), four = SPLAT16(4.0f), eight = SPLAT16(8.0f);
    const v16 s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;
    o[0] = m0 + s12 + s34;
    o[os] = d12 + two * d34;
    o[2 * os] = s12 + four * s34;
    o[3 * os] = d12 + eight * d34 + m5;
}

/// G over three values k[0], k[ks], k[2 ks] (a column or a row of a kernel) into six o[0], o[os], ...
static inline __attribute__((always_inline)) void GC_NAME(wino_g)(const v16 *k, long ks, v16 *o, long os) {
    const v16 a = k[0], b = k[ks], c = k[2 * ks];
    const v16 quarter = SPLAT16(0.25f), sixth = SPLAT16(1.0f / 6), twelfth = SPLAT16(1.0f / 12), twentyfourth = SPLAT16(1.0f / 24);
    const v16 ac = a + c;
    o[0] = quarter * a;
    o[os] = -sixth * (ac + b);
    o[2 * os] = -sixth * (ac - b);
    o[3 * os] = twentyfourth * a + twelfth * b + sixth * c;
    o[4 * os] = twentyfourth * a - twelfth * b + sixth * c;
    o[5 * os] = c;
}

/// u = G w G^T of w [O, C, 3, 3] for output blocks [begin, end), sixteen output channels per
/// vector: u[p][ob][c][16] (point p = 6i + j).
static void GC_NAME(winograd_weight_transform)(const float *w, float *u, long out_blocks, long in_channels, long begin, long end)
{
    for (long ob = begin; ob < end; ob++)
        for (long c = 0; c < in_channels; c++) {
            v16 k[9], gk[18], r[6];
            for (int t = 0; t < 9; t++)
                for (int lane = 0; lane < 16; lane++) k[t][lane] = w[((ob * 16 + lane) * in_channels + c) * 9 + t];
            for (int j = 0; j < 3; j++) GC_NAME(wino_g)(k + j, 3, gk + j, 3);   // gk[3i + j] = (G k)[i][j]
            for (int i = 0; i < 6; i++) {
                GC_NAME(wino_g)(gk + i * 3, 1, r, 1);
                for (int l = 0; l < 6; l++) *(v16u *)(u + (((long)(i * 6 + l) * out_blocks + ob) * in_channels + c) * 16) = r[l];
            }
        }
}

/// V = B^T d B of the 6x6 patch of tile (th, tw) of one channel block `xc` [H, W, 16] (zero
/// outside the input), point p stored at v + p * point_stride.
static inline __attribute__((always_inline)) void GC_NAME(wino_input_tile)(
    const gc_winograd_geometry *g, const float *xc, long th, long tw, float *v, long point_stride)
{
    const long i0 = th * GC_WINOGRAD_TILE - g->pad_h, j0 = tw * GC_WINOGRAD_TILE - g->pad_w, width = g->width;
    v16 d[36], t[36];
    if (i0 >= 0 && j0 >= 0 && i0 + 6 <= g->height && j0 + 6 <= width) {
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++) d[i * 6 + j] = *(const v16u *)(xc + ((i0 + i) * width + j0 + j) * 16);
    } else {
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++) {
                const long r = i0 + i, c = j0 + j;
                d[i * 6 + j] = r >= 0 && r < g->height && c >= 0 && c < width ? *(const v16u *)(xc + (r * width + c) * 16) : (v16){0};
            }
    }
    for (int j = 0; j < 6; j++) GC_NAME(wino_bt)(d + j, 6, t + j, 6);
    for (int i = 0; i < 6; i++) {
        v16 r[6];
        GC_NAME(wino_bt)(t + i * 6, 1, r, 1);
        for (int j = 0; j < 6; j++) *(v16u *)(v + (i * 6 + j) * point_stride) = r[j];
    }
}

/// Y = A^T M A of one tile's products (point p at mt + p * point_stride), then
/// act(Y * scale + shift (+ residual)) (the output block's 16 of each) stored to the tile's positions inside the output plane yo.
static inline __attribute__((always_inline)) void GC_NAME(wino_output_tile)(
    const gc_winograd_geometry *g, const float *mt, long point_stride, const float *scale, const float *shift,
    const float *res, float *yo, long th, long tw)
{
    const v16 s = *(const v16u *)scale, sh = *(const v16u *)shift;
    v16 t[24];
    for (int l = 0; l < 6; l++) {
        v16 col[6];
        for (int k = 0; k < 6; k++) col[k] = *(const v16u *)(mt + (k * 6 + l) * point_stride);
        GC_NAME(wino_at)(col, 1, t + l, 6);
    }
    for (int a = 0; a < 4; a++) {
        const long oh = th * GC_WINOGRAD_TILE + a;
        if (oh >= g->out_height) break;
        v16 r[4];
        GC_NAME(wino_at)(t + a * 6, 1, r, 1);
        for (int b = 0; b < 4; b++) {
            const long ow = tw * GC_WINOGRAD_TILE + b;
            if (ow >= g->out_width) break;
            const long at = (oh * g->out_width + ow) * 16;
            v16 val = sh + r[b] * s;
            if (res) val += *(const v16u *)(res + at);
            if (g->relu) val = relu16(val);
            *(v16u *)(yo + at) = val;
        }
    }
}

/// One register tile of one point's batched product: for `count` tiles from v and `blocks`
/// output blocks from u, m = sum over channels c of V[c][tile] * U[c][block], channels in
/// order. v: element (channel block cb, tile q, channel ic) at v[(cb * tile_block + q) * 16 + ic];
/// u: block j, channel c at u[j * u_stride + c * 16]; m: block j, tile q at m[j * m_stride + q * 16].
static inline __attribute__((always_inline)) void GC_NAME(wino_product_tile)(
    const float *v, const float *u, float *m, long in_blocks, long tile_block, long u_stride, long m_stride,
    const int count, const int blocks)
{
    v16 acc[TILE_BLOCKS][TILE_POSITIONS];
    for (int j = 0; j < blocks; j++)
        for (int q = 0; q < count; q++) acc[j][q] = (v16){0};
    for (long cb = 0; cb < in_blocks; cb++) {
        const float *vc = v + cb * tile_block * 16;
        const float *uc = u + cb * 256;
        for (int ic = 0; ic < 16; ic++) {
            v16 w[TILE_BLOCKS];
            for (int j = 0; j < blocks; j++) w[j] = *(const v16u *)(uc + j * u_stride + ic * 16);
            for (int q = 0; q < count; q++) {
                const float xs = vc[q * 16 + ic];
                for (int j = 0; j < blocks; j++) acc[j][q] = FMA(acc[j][q], w[j], xs);
            }
        }
    }
    for (int j = 0; j < blocks; j++)
        for (int q = 0; q < count; q++) *(v16u *)(m + j * m_stride + q * 16) = acc[j][q];
}

/// One point's product for `blocks` output blocks over the tile block's `tiles` tiles: full
/// register tiles, then one partial tile, each with constant counts (accumulators in registers).
static inline __attribute__((always_inline)) void GC_NAME(wino_product)(
    const float *v, const float *u, float *m, long in_blocks, long tile_block, long u_stride, long m_stride,
    long tiles, const int blocks)
{
    long t = 0;
    for (; t + TILE_POSITIONS <= tiles; t += TILE_POSITIONS)
        GC_NAME(wino_product_tile)(v + t * 16, u, m + t * 16, in_blocks, tile_block, u_stride, m_stride, TILE_POSITIONS, blocks);
    switch (tiles - t) {
#define GC_PARTIAL(n) case n: GC_NAME(wino_product_tile)(v + t * 16, u, m + t * 16, in_blocks, tile_block, u_stride, m_stride, \
                                                         (n) < TILE_POSITIONS ? (n) : TILE_POSITIONS, blocks); break;
        GC_PARTIAL(1) GC_PARTIAL(2) GC_PARTIAL(3) GC_PARTIAL(4) GC_PARTIAL(5) GC_PARTIAL(6) GC_PARTIAL(7)
        GC_PARTIAL(8) GC_PARTIAL(9) GC_PARTIAL(10) GC_PARTIAL(11)
#undef GC_PARTIAL
        default: break;
    }
}

/// Items are (tile block, output-block group) of one image, groups fastest, so that one
/// caller's consecutive items share the transformed input of their tile block. Within an
/// item, TILE_BLOCKS output blocks at a time: the 36 points' products, then their output
/// transform (the products of those blocks stay in cache until transformed).
static void GC_NAME(winograd_conv2d)(const gc_winograd_geometry *g, const float *x, const float *u, const float *scale,
                                     const float *shift, const float *residual, float *y, float *scratch,
                                     long image, long begin, long end)
{
    const long cb_n = g->in_blocks, ob_n = g->out_blocks, tb = g->tile_block, og = g->out_group;
    const long plane_in = g->height * g->width * 16, plane_out = g->out_height * g->out_width * 16;
    x += image * cb_n * plane_in;
    y += image * ob_n * plane_out;
    if (residual) residual += image * ob_n * plane_out;
    const long tiles = g->tiles_h * g->tiles_w, groups = (ob_n + og - 1) / og;
    const long v_point = cb_n * tb * 16, m_point = TILE_BLOCKS * tb * 16, u_block = cb_n * 256;
    float *v = scratch;                                     // [36][C/16][tile_block][16]
    float *m = scratch + GC_WINOGRAD_POINTS * v_point;      // [36][TILE_BLOCKS][tile_block][16]
    long have = -1;                                         // the tile block v holds
    for (long item = begin; item < end; item++) {
        const long block = item / groups, group = item % groups;
        const long t0 = block * tb, count = tiles - t0 < tb ? tiles - t0 : tb;
        if (block != have) {
            for (long cb = 0; cb < cb_n; cb++)
                for (long t = 0; t < count; t++)
                    GC_NAME(wino_input_tile)(g, x + cb * plane_in, (t0 + t) / g->tiles_w, (t0 + t) % g->tiles_w,
                                             v + (cb * tb + t) * 16, v_point);
            have = block;
        }
        const long ob_end = (group + 1) * og < ob_n ? (group + 1) * og : ob_n;
        for (long ob = group * og; ob < ob_end; ob += TILE_BLOCKS) {
            const int blocks = ob_end - ob >= TILE_BLOCKS ? TILE_BLOCKS : (int)(ob_end - ob);
            for (long p = 0; p < GC_WINOGRAD_POINTS; p++) {
                const float *vp = v + p * v_point, *up = u + (p * ob_n + ob) * u_block;
                float *mp = m + p * m_point;
                // Constant block counts: each compiles with its accumulators in registers.
                if (blocks == TILE_BLOCKS) GC_NAME(wino_product)(vp, up, mp, cb_n, tb, u_block, tb * 16, count, TILE_BLOCKS);
                else GC_NAME(wino_product)(vp, up, mp, cb_n, tb, u_block, tb * 16, count, 1);
            }
            for (int j = 0; j < blocks; j++) {
                const float *res = residual ? residual + (ob + j) * plane_out : 0;
                for (long t = 0; t < count; t++)
                    GC_NAME(wino_output_tile)(g, m + (j * tb + t) * 16, m_point, scale + (ob + j) * 16, shift + (ob + j) * 16, res, y + (ob + j) * plane_out,
                                              (t0 + t) / g->tiles_w, (t0 + t) % g->tiles_w);
            }
        }
    }
}

#undef GC_NAME
#undef GC_CAT
#undef GC_CAT2
