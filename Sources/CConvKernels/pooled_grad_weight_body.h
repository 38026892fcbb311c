// The pooled weight gradient, compiled once per instruction set (pooled_grad_weight.c includes
// instantiate_isa.h, which defines ISA, a name suffix, and FMAV inside a `#pragma clang
// attribute` target region). Vectors are 16 lanes (conv_vectors.h); the compiler splits them
// into the ISA's registers.

#define GC_PCAT2(a, b) a##_##b
#define GC_PCAT(a, b) GC_PCAT2(a, b)
#define GC_PNAME(n) GC_PCAT(n, ISA)

/// Lanes 0..15 of a 32-float row: its even (a window's left) and odd (right) elements.
static inline __attribute__((always_inline)) void GC_PNAME(pg_split)(const float *row, v16 *even, v16 *odd) {
    v16 lo, hi;
    __builtin_memcpy(&lo, row, sizeof lo);
    __builtin_memcpy(&hi, row + 16, sizeof hi);
    *even = __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    *odd = __builtin_shufflevector(lo, hi, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
}

/// Whether any lane of a mask is set.
static inline __attribute__((always_inline)) int GC_PNAME(pg_any)(i16v mask) {
    int l[16];
    __builtin_memcpy(l, &mask, sizeof l);
    int any = 0;
    for (int k = 0; k < 16; k++) any |= l[k];
    return any != 0;
}

/// The 16 lanes added by one fixed tree (halves, then halves of those).
static inline __attribute__((always_inline)) float GC_PNAME(pg_sum)(v16 v) {
    float l[16];
    __builtin_memcpy(l, &v, sizeof l);
    for (int width = 8; width > 0; width /= 2)
        for (int k = 0; k < width; k++) l[k] += l[k + width];
    return l[0];
}

/// Routes each lane's pooled gradient gv to its window's position, as maxpool2d_grad does: the
/// first NaN, else the first maximum of (a, b, cc, d) (top-left, top-right, bottom-left,
/// bottom-right); with `relu`, nowhere when the maximum is not above 0 (or is NaN); lanes at or
/// past `valid` nowhere. q[k]: the gradient at position k of each window (0 at the others).
static inline __attribute__((always_inline)) void GC_PNAME(pg_route)(v16 a, v16 b, v16 cc, v16 d, v16 gv, long valid,
                                                                     int relu, v16 q[4]) {
    i16v lane;
    for (int k = 0; k < 16; k++) lane[k] = k;
    // maxpool2d_grad's scan: the first NaN, else the first strict maximum
    // (without NaNs, the first element equal to the maximum).
    const v16 m = __builtin_elementwise_max(__builtin_elementwise_max(a, b), __builtin_elementwise_max(cc, d));
    i16v ea = a == m, eb = (b == m) & ~ea, ec = (cc == m) & ~(ea | eb), ed = ~(ea | eb | ec);
    i16v keep = lane < (i16v){0} + (int)valid;
    if (relu) keep &= m > (v16){0};
    // One test for NaNs (a sum is NaN with any, or with +inf and -inf, which
    // the masks below then leave as they are); windows with one take the first.
    const v16 total = a + b + cc + d;
    if (GC_PNAME(pg_any)(total != total)) {
        const i16v na = a != a, nb = b != b, nc = cc != cc, nd = d != d, anyNaN = na | nb | nc | nd;
        ea = (anyNaN & na) | (~anyNaN & ea);
        eb = (anyNaN & nb & ~na) | (~anyNaN & eb);
        ec = (anyNaN & nc & ~(na | nb)) | (~anyNaN & ec);
        ed = (anyNaN & ~(na | nb | nc)) | (~anyNaN & ed);
        keep &= ~(anyNaN & (i16v){0} - relu);
    }
    const i16v gi = (i16v)gv & keep;
    q[0] = (v16)(gi & ea); q[1] = (v16)(gi & eb); q[2] = (v16)(gi & ec); q[3] = (v16)(gi & ed);
}

/// xv[t]: phase t of deinterleaved input row 2i + rr (gc_pg_deinterleave's), lanes j0...
static inline __attribute__((always_inline)) void GC_PNAME(pg_row)(const float *xb, long rowStride, long padded, long i,
                                                                   int rr, long j0, v16 xv[4]) {
    for (int t = 0; t < 4; t++) __builtin_memcpy(&xv[t], xb + (2 * i + rr) * rowStride + t * padded + j0, sizeof(v16));
}

/// s[k] += the products of tap k for the 16 windows j0.. of pooled row i: q (pg_route's) times
/// the deinterleaved input plane xb (gc_pg_deinterleave's). Input row 2i + rr serves window row
/// di with tap row ky = rr - di (four of its phases live at a time, not all sixteen).
static inline __attribute__((always_inline)) void GC_PNAME(pg_accumulate)(v16 s[9], const v16 q[4], const float *xb,
                                                                          long rowStride, long padded, long i, long j0) {
    for (int rr = 0; rr < 4; rr++) {
        v16 xv[4];
        GC_PNAME(pg_row)(xb, rowStride, padded, i, rr, j0, xv);
        for (int di = 0; di < 2; di++) {
            const int ky = rr - di;
            if (ky < 0 || ky > 2) continue;
            for (int dj = 0; dj < 2; dj++)
                for (int kx = 0; kx < 3; kx++)
                    s[ky * 3 + kx] = FMAV(s[ky * 3 + kx], q[di * 2 + dj], xv[dj + kx]);
        }
    }
}

/// dw from the lane accumulators of output channels [o_begin, o_end): each the 16 lanes added by pg_sum.
static inline __attribute__((always_inline)) void GC_PNAME(pg_store)(const float *acc, float *dw, long cin, long o_begin,
                                                                     long o_end) {
    for (long o = o_begin; o < o_end; o++)
        for (long c = 0; c < cin; c++)
            for (int k = 0; k < 9; k++) {
                v16 v;
                __builtin_memcpy(&v, acc + (((o - o_begin) * cin + c) * 9 + k) * 16, sizeof v);
                dw[(o * cin + c) * 9 + k] = GC_PNAME(pg_sum)(v);
            }
}

static void GC_PNAME(pooled_grad_weight3x3)(const float *dp, const float *y, const float *x, float *dw, long images,
                                            long cin, long cout, long ih, long iw, long h, long w, long pad_h,
                                            long pad_w, int relu, float *scratch, long o_begin, long o_end) {
    const long oh = h / 2, ow = w / 2, blocks = (ow + 15) / 16, padded = blocks * 16;
    const long channels = o_end - o_begin;
    float *acc = scratch;
    float *xb = scratch + channels * cin * 9 * 16;
    const long rowStride = 4 * padded;
    for (long k = 0; k < channels * cin * 9 * 16; k++) acc[k] = 0;
    const long yCount = images * cout * h * w, dpCount = images * cout * oh * ow;
    for (long n = 0; n < images; n++) {
        for (long c = 0; c < cin; c++) {
            gc_pg_deinterleave(x + (n * cin + c) * ih * iw, xb, ih, iw, h, pad_h, pad_w, ow, padded);
            for (long o = o_begin; o < o_end; o++) {
                float *sums = acc + ((o - o_begin) * cin + c) * 9 * 16;
                v16 s[9];
                __builtin_memcpy(s, sums, sizeof s);
                const float *yp = y + (n * cout + o) * h * w, *gp = dp + (n * cout + o) * oh * ow;
                for (long i = 0; i < oh; i++) {
                    for (long j0 = 0; j0 < ow; j0 += 16) {
                        const float *top = yp + 2 * i * w + 2 * j0, *bottom = top + w, *g = gp + i * ow + j0;
                        // A block reading past the end of y or dp reads copies padded with zeros
                        // (its lanes past the row are masked off by pg_route).
                        float topCopy[32], bottomCopy[32], gCopy[16];
                        const long bottomAt = (n * cout + o) * h * w + (2 * i + 1) * w + 2 * j0;
                        const long gAt = (n * cout + o) * oh * ow + i * ow + j0;
                        if (bottomAt + 32 > yCount || gAt + 16 > dpCount) {
                            const long valid = ow - j0 < 16 ? ow - j0 : 16;
                            for (long k = 0; k < 32; k++) {
                                topCopy[k] = k < 2 * valid ? top[k] : 0;
                                bottomCopy[k] = k < 2 * valid ? bottom[k] : 0;
                            }
                            for (long k = 0; k < 16; k++) gCopy[k] = k < valid ? g[k] : 0;
                            top = topCopy; bottom = bottomCopy; g = gCopy;
                        }
                        v16 a, b, cc, d, gv, q[4];
                        GC_PNAME(pg_split)(top, &a, &b);
                        GC_PNAME(pg_split)(bottom, &cc, &d);
                        __builtin_memcpy(&gv, g, sizeof gv);
                        GC_PNAME(pg_route)(a, b, cc, d, gv, ow - j0, relu, q);
                        GC_PNAME(pg_accumulate)(s, q, xb, rowStride, padded, i, j0);
                    }
                }
                __builtin_memcpy(sums, s, sizeof s);
            }
        }
    }
    GC_PNAME(pg_store)(acc, dw, cin, o_begin, o_end);
}

/// The convolution's four outputs under each of the 16 pooled positions j0.. of pooled row i,
/// output channel o (wo its weights [cin, 3, 3]), from the deinterleaved input planes xb (one
/// per input channel, `plane` floats apart): v[di * 2 + dj] at (2i + di, 2(j0 + lane) + dj),
/// the bias plus the products in one fixed order (input channel, tap row, tap column), then
/// the relu (relu16: a NaN stays). Forward and recomputing gradient both take their values
/// here, so the gradient routes through the very values the forward pooled.
static inline __attribute__((always_inline)) void GC_PNAME(pc_windows)(const float *xb, long cin, long plane,
                                                                       long rowStride, long padded, const float *wo,
                                                                       float bias, int relu, long i, long j0, v16 v[4]) {
    for (int k = 0; k < 4; k++) v[k] = SPLAT16(bias);
    for (long c = 0; c < cin; c++) {
        const float *xc = xb + c * plane;
        for (int rr = 0; rr < 4; rr++) {
            v16 xv[4];
            GC_PNAME(pg_row)(xc, rowStride, padded, i, rr, j0, xv);
            for (int di = 0; di < 2; di++) {
                const int ky = rr - di;
                if (ky < 0 || ky > 2) continue;
                for (int kx = 0; kx < 3; kx++) {
                    const float wk = wo[c * 9 + ky * 3 + kx];
                    const v16 ws = SPLAT16(wk);
                    for (int dj = 0; dj < 2; dj++) v[di * 2 + dj] = FMAV(v[di * 2 + dj], ws, xv[dj + kx]);
                }
            }
        }
    }
    if (relu)
        for (int k = 0; k < 4; k++) v[k] = relu16(v[k]);
}

/// Every input channel of image n deinterleaved into xb (gc_pg_deinterleave), `plane` floats apart.
static inline __attribute__((always_inline)) void GC_PNAME(pc_planes)(const float *x, float *xb, long n, long cin,
                                                                      long ih, long iw, long h, long pad_h, long pad_w,
                                                                      long ow, long padded) {
    const long plane = (h + 2) * 4 * padded;
    for (long c = 0; c < cin; c++)
        gc_pg_deinterleave(x + (n * cin + c) * ih * iw, xb + c * plane, ih, iw, h, pad_h, pad_w, ow, padded);
}

static void GC_PNAME(conv3x3_pool2)(const float *x, const float *w, const float *bias, float *y, long cin, long cout,
                                    long ih, long iw, long h, long wd, long pad_h, long pad_w, int relu,
                                    float *scratch, long n_begin, long n_end) {
    const long oh = h / 2, ow = wd / 2, padded = (ow + 15) / 16 * 16, rowStride = 4 * padded;
    const long plane = (h + 2) * rowStride;
    for (long n = n_begin; n < n_end; n++) {
        GC_PNAME(pc_planes)(x, scratch, n, cin, ih, iw, h, pad_h, pad_w, ow, padded);
        for (long o = 0; o < cout; o++) {
            float *yo = y + (n * cout + o) * oh * ow;
            for (long i = 0; i < oh; i++)
                for (long j0 = 0; j0 < ow; j0 += 16) {
                    v16 v[4];
                    GC_PNAME(pc_windows)(scratch, cin, plane, rowStride, padded, w + o * cin * 9, bias ? bias[o] : 0,
                                         relu, i, j0, v);
                    // As the 2x2 max pooling of the activations: a NaN wins.
                    const v16 m = max_nan16(max_nan16(max_nan16(v[0], v[1]), v[2]), v[3]);
                    // All 16 lanes while they end within this chunk's images (the lanes past the
                    // row land on values written later, in this chunk); else the row's alone.
                    float *at = yo + i * ow + j0;
                    if (at + 16 <= y + n_end * cout * oh * ow) {
                        __builtin_memcpy(at, &m, sizeof m);
                    } else {
                        float lanes[16];
                        __builtin_memcpy(lanes, &m, sizeof lanes);
                        const long valid = ow - j0 < 16 ? ow - j0 : 16;
                        for (long k = 0; k < valid; k++) at[k] = lanes[k];
                    }
                }
        }
    }
}

/// recomputed_pooled_grad_weight3x3 for `cin` input channels (a constant 1 at one call site,
/// so the accumulators stay in registers).
static inline __attribute__((always_inline)) void GC_PNAME(rpg_body)(
    const float *dp, const float *x, const float *w, const float *bias, float *dw, long images, const long cin,
    long cout, long ih, long iw, long h, long wd, long pad_h, long pad_w, int relu, float *scratch, long o_begin,
    long o_end) {
    const long oh = h / 2, ow = wd / 2, padded = (ow + 15) / 16 * 16, rowStride = 4 * padded;
    const long plane = (h + 2) * rowStride, channels = o_end - o_begin;
    float *acc = scratch;
    float *xb = scratch + channels * cin * 9 * 16;
    for (long k = 0; k < channels * cin * 9 * 16; k++) acc[k] = 0;
    const long dpCount = images * cout * oh * ow;
    for (long n = 0; n < images; n++) {
        GC_PNAME(pc_planes)(x, xb, n, cin, ih, iw, h, pad_h, pad_w, ow, padded);
        for (long o = o_begin; o < o_end; o++) {
            v16 s[GC_PC_MAX_IN_CHANNELS][9];
            float *sums = acc + (o - o_begin) * cin * 9 * 16;
            for (long c = 0; c < cin; c++) __builtin_memcpy(s[c], sums + c * 9 * 16, sizeof s[c]);
            const float *gp = dp + (n * cout + o) * oh * ow;
            for (long i = 0; i < oh; i++)
                for (long j0 = 0; j0 < ow; j0 += 16) {
                    const float *g = gp + i * ow + j0;
                    float gCopy[16];
                    const long gAt = (n * cout + o) * oh * ow + i * ow + j0;
                    if (gAt + 16 > dpCount) {
                        const long valid = ow - j0 < 16 ? ow - j0 : 16;
                        for (long k = 0; k < 16; k++) gCopy[k] = k < valid ? g[k] : 0;
                        g = gCopy;
                    }
                    v16 v[4], gv, q[4];
                    GC_PNAME(pc_windows)(xb, cin, plane, rowStride, padded, w + o * cin * 9, bias ? bias[o] : 0, relu,
                                         i, j0, v);
                    __builtin_memcpy(&gv, g, sizeof gv);
                    GC_PNAME(pg_route)(v[0], v[1], v[2], v[3], gv, ow - j0, relu, q);
                    for (long c = 0; c < cin; c++)
                        GC_PNAME(pg_accumulate)(s[c], q, xb + c * plane, rowStride, padded, i, j0);
                }
            for (long c = 0; c < cin; c++) __builtin_memcpy(sums + c * 9 * 16, s[c], sizeof s[c]);
        }
    }
    GC_PNAME(pg_store)(acc, dw, cin, o_begin, o_end);
}

static void GC_PNAME(recomputed_pooled_grad_weight3x3)(const float *dp, const float *x, const float *w,
                                                       const float *bias, float *dw, long images, long cin, long cout,
                                                       long ih, long iw, long h, long wd, long pad_h, long pad_w,
                                                       int relu, float *scratch, long o_begin, long o_end) {
    if (cin == 1)
        GC_PNAME(rpg_body)(dp, x, w, bias, dw, images, 1, cout, ih, iw, h, wd, pad_h, pad_w, relu, scratch, o_begin, o_end);
    else
        GC_PNAME(rpg_body)(dp, x, w, bias, dw, images, cin, cout, ih, iw, h, wd, pad_h, pad_w, relu, scratch, o_begin,
                           o_end);
}

#undef GC_PCAT2
#undef GC_PCAT
#undef GC_PNAME
