// The Winograd weight gradient (winograd_grad_weight_kernels.h), compiled once per instruction
// set by winograd_grad_weight.c through instantiate_isa.h (ISA, TILE_POSITIONS, TILE_BLOCKS,
// FMA): the tile transforms over 16-lane blocks of channels, and the 36 transform-domain
// products in a register tile of TILE_BLOCKS output blocks x up to TILE_POSITIONS input
// channels.

#define GC_WCAT2(a, b) a##_##b
#define GC_WCAT(a, b) GC_WCAT2(a, b)
#define GC_WNAME(n) GC_WCAT(n, ISA)

/// B^T d over six vectors d[0], d[is], ... into out[0], out[os], ...
static inline __attribute__((always_inline)) void GC_WNAME(wg_bt)(const v16 *d, long is, v16 *out, long os) {
    const v16 d0 = d[0], d1 = d[is], d2 = d[2 * is], d3 = d[3 * is], d4 = d[4 * is], d5 = d[5 * is];
    const v16 a = d4 - 4.0f * d2, b = d3 - 4.0f * d1, c = d4 - d2, e = 2.0f * (d3 - d1);
    out[0] = 4.0f * d0 - 5.0f * d2 + d4;
    out[os] = a + b;
    out[2 * os] = a - b;
    out[3 * os] = c + e;
    out[4 * os] = c - e;
    out[5 * os] = 4.0f * d1 - 5.0f * d3 + d5;
}

/// A g over four vectors g[0], g[is], ... into six: out[0], out[os], ...
static inline __attribute__((always_inline)) void GC_WNAME(wg_a)(const v16 *g, long is, v16 *out, long os) {
    const v16 g0 = g[0], g1 = g[is], g2 = g[2 * is], g3 = g[3 * is];
    const v16 even = g0 + g2, odd = g1 + g3, even4 = g0 + 4.0f * g2, odd4 = 2.0f * (g1 + 4.0f * g3);
    out[0] = g0;
    out[os] = even + odd;
    out[2 * os] = even - odd;
    out[3 * os] = even4 + odd4;
    out[4 * os] = even4 - odd4;
    out[5 * os] = g3;
}

/// Channels [0, channels) of planes [rows, width] (src) into dst [.., dst_width, lanes]:
/// position (r, q) to row top + r, column left + q, only those inside max_rows x max_width
/// (what the convolution reads). Lanes past the channels are not written. 16x16 squares
/// (GC_TRANSPOSE16), the ragged edges one float at a time.
static void GC_WNAME(wg_place)(const float *src, long channels, long rows, long width, float *dst, long dst_width,
                               long top, long left, long max_rows, long max_width, long lanes) {
    const long positions = rows * width, full_c = channels / 16 * 16, full_p = positions / 16 * 16;
    // Rows and columns kept: the positions past them are skipped, not stored.
    const long kept_rows = rows < max_rows - top ? rows : max_rows - top;
    const long kept = width < max_width - left ? width : max_width - left;
    if (kept_rows <= 0 || kept <= 0) return;
    const long row_skip = (dst_width - width) * lanes;
    for (long c0 = 0; c0 < full_c; c0 += 16) {
        float *to = dst + (top * dst_width + left) * lanes + c0;
        long row = 0, col = 0;
        for (long p0 = 0; p0 < full_p; p0 += 16) {
            v16 r[16];
            for (int i = 0; i < 16; i++) r[i] = *(const v16u *)(src + (c0 + i) * positions + p0);
            GC_TRANSPOSE16(r);
            for (int i = 0; i < 16; i++) {
                if (row < kept_rows && col < kept) *(v16u *)to = r[i];
                to += lanes;
                if (++col == width) { col = 0; row++; to += row_skip; }
            }
        }
    }
    // The positions past the squares, and all of them for channels past the last whole block.
    for (long p = full_c < channels ? 0 : full_p; p < positions; p++) {
        const long row = p / width, col = p % width;
        if (row >= kept_rows || col >= kept) continue;
        float *to = dst + ((top + row) * dst_width + left + col) * lanes;
        for (long c = p < full_p ? full_c : 0; c < channels; c++) to[c] = src[c * positions + p];
    }
}

/// V[p][k][lanes] = B^T d B for every 6x6 patch d of xp [rows, wpp, lanes] under a 4x4 tile
/// (tiles_h x tiles_w of them, k = k0 + tile), `point` floats between two points' planes.
static void GC_WNAME(wg_transform_x)(const float *xp, long wpp, long lanes, long tiles_h, long tiles_w, float *v, long point,
                                     long k0) {
    for (long ti = 0; ti < tiles_h; ti++)
        for (long tj = 0; tj < tiles_w; tj++) {
            const long k = k0 + ti * tiles_w + tj;
            for (long cb = 0; cb < lanes; cb += 16) {
                v16 d[6][6], t[6][6];
                for (int r = 0; r < 6; r++)
                    for (int s = 0; s < 6; s++) d[r][s] = *(const v16u *)(xp + ((ti * 4 + r) * wpp + tj * 4 + s) * lanes + cb);
                for (int s = 0; s < 6; s++) GC_WNAME(wg_bt)(&d[0][s], 6, &t[0][s], 6);
                for (int r = 0; r < 6; r++) GC_WNAME(wg_bt)(&t[r][0], 1, &d[r][0], 1);
                float *to = v + k * lanes + cb;
                for (int r = 0; r < 6; r++)
                    for (int s = 0; s < 6; s++, to += point) *(v16u *)to = d[r][s];
            }
        }
}

/// U[p][k][lanes] = A g A^T for every 4x4 tile g of dyp [tiles_h*4, width, lanes].
static void GC_WNAME(wg_transform_dy)(const float *dyp, long width, long lanes, long tiles_h, long tiles_w, float *u,
                                      long point, long k0) {
    for (long ti = 0; ti < tiles_h; ti++)
        for (long tj = 0; tj < tiles_w; tj++) {
            const long k = k0 + ti * tiles_w + tj;
            for (long ob = 0; ob < lanes; ob += 16) {
                v16 g[4][4], t[6][4], w[6][6];
                for (int r = 0; r < 4; r++)
                    for (int s = 0; s < 4; s++) g[r][s] = *(const v16u *)(dyp + ((ti * 4 + r) * width + tj * 4 + s) * lanes + ob);
                for (int s = 0; s < 4; s++) GC_WNAME(wg_a)(&g[0][s], 4, &t[0][s], 4);
                for (int r = 0; r < 6; r++) GC_WNAME(wg_a)(&t[r][0], 1, &w[r][0], 1);
                float *to = u + k * lanes + ob;
                for (int r = 0; r < 6; r++)
                    for (int s = 0; s < 6; s++, to += point) *(v16u *)to = w[r][s];
            }
        }
}

/// s[c][ob*16 + ...] for `width` channels from c0 and `blocks` output blocks from ob: the sum
/// over k of u[k][o] * v[k][c], started at zero or at what s holds.
static inline __attribute__((always_inline)) void GC_WNAME(wg_tile)(const float *u, const float *v, float *s, long k_count,
                                                                    long ol, long cl, long c0, long ob, int accumulate,
                                                                    const int blocks, const int width) {
    v16 acc[TILE_BLOCKS][TILE_POSITIONS];
    for (int b = 0; b < blocks; b++)
        for (int c = 0; c < width; c++)
            acc[b][c] = accumulate ? *(const v16u *)(s + (c0 + c) * ol + (ob + b) * 16) : (v16){0};
    for (long k = 0; k < k_count; k++) {
        const float *uk = u + k * ol + ob * 16, *vk = v + k * cl + c0;
        v16 d[TILE_BLOCKS];
        for (int b = 0; b < blocks; b++) d[b] = *(const v16u *)(uk + b * 16);
        for (int c = 0; c < width; c++) {
            const float x = vk[c];
            for (int b = 0; b < blocks; b++) acc[b][c] = FMA(acc[b][c], d[b], x);
        }
    }
    for (int b = 0; b < blocks; b++)
        for (int c = 0; c < width; c++) *(v16u *)(s + (c0 + c) * ol + (ob + b) * 16) = acc[b][c];
}

#define GC_WG_CASE(n) case n: GC_WNAME(wg_tile)(u, v, s, k_count, ol, cl, c0, ob, accumulate, blocks, n); return;

static inline __attribute__((always_inline)) void GC_WNAME(wg_tile_blocks)(const float *u, const float *v, float *s,
                                                                           long k_count, long ol, long cl, long c0,
                                                                           long ob, int accumulate, const int blocks,
                                                                           long width) {
    switch (width) {
        GC_WG_CASE(1)
        GC_WG_CASE(2)
#if TILE_POSITIONS >= 6
        GC_WG_CASE(3) GC_WG_CASE(4) GC_WG_CASE(5) GC_WG_CASE(6)
#endif
#if TILE_POSITIONS >= 12
        GC_WG_CASE(7) GC_WG_CASE(8) GC_WG_CASE(9) GC_WG_CASE(10) GC_WG_CASE(11) GC_WG_CASE(12)
#endif
        default: return;
    }
}

#undef GC_WG_CASE

/// The 36 products: S[p] (C x lanes(O)) from U[p] (K x ol) and V[p] (K x cl). Channels in
/// runs of near-equal width up to TILE_POSITIONS (16 on AVX-512: two runs of 8).
static void GC_WNAME(wg_products)(const float *u, const float *v, float *s, long k_count, long channels, long ol, long cl,
                                  int accumulate) {
    const long runs = (channels + TILE_POSITIONS - 1) / TILE_POSITIONS, out_blocks = ol / 16;
    for (int p = 0; p < 36; p++) {
        const float *up = u + p * k_count * ol, *vp = v + p * k_count * cl;
        float *sp = s + p * channels * ol;
        for (long r = 0; r < runs; r++) {
            const long c0 = r * channels / runs, width = (r + 1) * channels / runs - c0;
            long ob = 0;
            for (; ob + TILE_BLOCKS <= out_blocks; ob += TILE_BLOCKS)
                GC_WNAME(wg_tile_blocks)(up, vp, sp, k_count, ol, cl, c0, ob, accumulate, TILE_BLOCKS, width);
            for (; ob < out_blocks; ob++) GC_WNAME(wg_tile_blocks)(up, vp, sp, k_count, ol, cl, c0, ob, accumulate, 1, width);
        }
    }
}

#undef GC_WCAT2
#undef GC_WCAT
#undef GC_WNAME
