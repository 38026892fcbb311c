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

static void GC_PNAME(pooled_grad_weight3x3)(const float *dp, const float *y, const float *x, float *dw, long images,
                                            long cin, long cout, long ih, long iw, long h, long w, long pad_h,
                                            long pad_w, int relu, float *scratch, long o_begin, long o_end) {
    const long oh = h / 2, ow = w / 2, blocks = (ow + 15) / 16, padded = blocks * 16;
    const long channels = o_end - o_begin;
    float *acc = scratch;
    // xb[R][T][j] = x[R - pad_h][2j + T - pad_w]: the input under position (2i + di, 2j + dj)
    // of the convolution's output, tap (ky, kx), is xb[2i + di + ky][dj + kx][j]; 0 outside x
    // and for j past the pooled width.
    float *xb = scratch + channels * cin * 9 * 16;
    const long rowStride = 4 * padded;
    for (long k = 0; k < channels * cin * 9 * 16; k++) acc[k] = 0;
    const long yCount = images * cout * h * w, dpCount = images * cout * oh * ow;
    i16v lane;
    for (int k = 0; k < 16; k++) lane[k] = k;
    for (long n = 0; n < images; n++) {
        for (long c = 0; c < cin; c++) {
            const float *plane = x + (n * cin + c) * ih * iw;
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
            for (long o = o_begin; o < o_end; o++) {
                float *sums = acc + ((o - o_begin) * cin + c) * 9 * 16;
                v16 s[9];
                __builtin_memcpy(s, sums, sizeof s);
                const float *yp = y + (n * cout + o) * h * w, *gp = dp + (n * cout + o) * oh * ow;
                for (long i = 0; i < oh; i++) {
                    for (long j0 = 0; j0 < ow; j0 += 16) {
                        const float *top = yp + 2 * i * w + 2 * j0, *bottom = top + w, *g = gp + i * ow + j0;
                        // A block reading past the end of y or dp reads copies padded with zeros
                        // (its lanes past the row are masked off below).
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
                        v16 a, b, cc, d, gv;
                        GC_PNAME(pg_split)(top, &a, &b);
                        GC_PNAME(pg_split)(bottom, &cc, &d);
                        __builtin_memcpy(&gv, g, sizeof gv);
                        // maxpool2d_grad's scan: the first NaN, else the first strict maximum
                        // (without NaNs, the first element equal to the maximum).
                        const v16 m = __builtin_elementwise_max(__builtin_elementwise_max(a, b),
                                                                __builtin_elementwise_max(cc, d));
                        i16v ea = a == m, eb = (b == m) & ~ea, ec = (cc == m) & ~(ea | eb), ed = ~(ea | eb | ec);
                        i16v keep = lane < (i16v){0} + (int)(ow - j0);
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
                        const v16 q[4] = {(v16)(gi & ea), (v16)(gi & eb), (v16)(gi & ec), (v16)(gi & ed)};
                        // Input row 2i + rr serves window row di with tap row ky = rr - di
                        // (four of its phases live at a time, not all sixteen).
                        for (int rr = 0; rr < 4; rr++) {
                            v16 xv[4];
                            for (int t = 0; t < 4; t++)
                                __builtin_memcpy(&xv[t], xb + (2 * i + rr) * rowStride + t * padded + j0, sizeof(v16));
                            for (int di = 0; di < 2; di++) {
                                const int ky = rr - di;
                                if (ky < 0 || ky > 2) continue;
                                for (int dj = 0; dj < 2; dj++)
                                    for (int kx = 0; kx < 3; kx++)
                                        s[ky * 3 + kx] = FMAV(s[ky * 3 + kx], q[di * 2 + dj], xv[dj + kx]);
                            }
                        }
                    }
                }
                __builtin_memcpy(sums, s, sizeof s);
            }
        }
    }
    for (long o = o_begin; o < o_end; o++)
        for (long c = 0; c < cin; c++)
            for (int k = 0; k < 9; k++) {
                v16 v;
                __builtin_memcpy(&v, acc + (((o - o_begin) * cin + c) * 9 + k) * 16, sizeof v);
                dw[(o * cin + c) * 9 + k] = GC_PNAME(pg_sum)(v);
            }
}

#undef GC_PCAT2
#undef GC_PCAT
#undef GC_PNAME
