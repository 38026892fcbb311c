// The training kernels, compiled once per instruction set (training_kernels.c includes
// instantiate_isa.h, which defines ISA, a name suffix, inside a `#pragma clang attribute`
// target region). Vectors are clang extended vectors; the compiler splits them into the
// ISA's registers.

#define GC_TCAT2(a, b) a##_##b
#define GC_TCAT(a, b) GC_TCAT2(a, b)
#define GC_TNAME(n) GC_TCAT(n, ISA)

/// `lanes` (8 or 4) 2x2 windows: the top rows' 2*lanes floats give a (even) and b (odd),
/// the bottom rows' c and d; writes their 2*lanes + 2*lanes gradients. Without NaNs the first
/// of a, b, c, d equal to the maximum is the scan's first strict maximum. Returns 0, writing
/// nothing, when a window holds a NaN (or +inf with -inf): those go to the scalar scan.
#define GC_POOL_BLOCK(name, V, W, VI, lanes, any, ...)                                                           \
    static inline __attribute__((always_inline)) int GC_TNAME(name)(const float *top_row, const float *bottom_row, \
                                                                    const float *g, float *d0, float *d1, int relu) { \
        W top, bottom;                                                                                             \
        V gv;                                                                                                      \
        __builtin_memcpy(&top, top_row, sizeof top);                                                               \
        __builtin_memcpy(&bottom, bottom_row, sizeof bottom);                                                      \
        __builtin_memcpy(&gv, g, sizeof gv);                                                                       \
        const V a = top.even, b = top.odd, c = bottom.even, d = bottom.odd;                                        \
        const V s = a + b + c + d;                                                                                 \
        if (any(s != s)) return 0;                                                                                 \
        const V m = __builtin_elementwise_max(__builtin_elementwise_max(a, b), __builtin_elementwise_max(c, d));  \
        VI gi = (VI)gv;                                                                                            \
        if (relu) gi &= (m > (V){0});                                                                              \
        const VI ea = a == m, eb = (b == m) & ~ea, ec = (c == m) & ~(ea | eb), ed = ~(ea | eb | ec);              \
        const V oa = (V)(gi & ea), ob = (V)(gi & eb), oc = (V)(gi & ec), od = (V)(gi & ed);                       \
        const W upper = __builtin_shufflevector(oa, ob, __VA_ARGS__);                                              \
        const W lower = __builtin_shufflevector(oc, od, __VA_ARGS__);                                              \
        __builtin_memcpy(d0, &upper, sizeof upper);                                                                \
        __builtin_memcpy(d1, &lower, sizeof lower);                                                                \
        return 1;                                                                                                  \
    }
GC_POOL_BLOCK(pool_block8, gc_tv8, gc_tv16, gc_tv8i, 8, gc_any8, 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15)
GC_POOL_BLOCK(pool_block4, gc_tv4, gc_tv8, gc_tv4i, 4, gc_any4, 0, 4, 1, 5, 2, 6, 3, 7)
#undef GC_POOL_BLOCK

/// Row pairs of each plane, eight windows at a time (four in rows of 4-7 windows). A row's
/// last block is moved back to end at the row's end, overlapping the one before: the
/// overlapped windows are written twice with the same values (stores, not sums).
static void GC_TNAME(maxpool2x2_backward)(const float *x, const float *dy, float *dx, long h, long w, long oh,
                                          long ow, int relu, long begin, long end) {
    const long lanes = ow >= 8 ? 8 : ow >= 4 ? 4 : 0;
    for (long p = begin; p < end; p++) {
        const float *plane = x + p * h * w, *grad = dy + p * oh * ow;
        float *out = dx + p * h * w;
        for (long oi = 0; oi < oh; oi++) {
            const float *r0 = plane + 2 * oi * w, *r1 = r0 + w, *g = grad + oi * ow;
            float *d0 = out + 2 * oi * w, *d1 = d0 + w;
            if (lanes == 0) {
                for (long k = 0; k < ow; k++) gc_window_backward(r0, r1, d0, d1, g, k, relu);
            } else {
                for (long at = 0; at < ow; at += lanes) {
                    const long oj = at + lanes <= ow ? at : ow - lanes;
                    const int done = lanes == 8
                        ? GC_TNAME(pool_block8)(r0 + 2 * oj, r1 + 2 * oj, g + oj, d0 + 2 * oj, d1 + 2 * oj, relu)
                        : GC_TNAME(pool_block4)(r0 + 2 * oj, r1 + 2 * oj, g + oj, d0 + 2 * oj, d1 + 2 * oj, relu);
                    if (!done)
                        for (long k = oj; k < oj + lanes; k++) gc_window_backward(r0, r1, d0, d1, g, k, relu);
                }
            }
            for (long j = 2 * ow; j < w; j++) { d0[j] = 0; d1[j] = 0; }
        }
        for (long i = 2 * oh * w; i < h * w; i++) out[i] = 0;
    }
}

/// `lanes` (8 or 4) 2x2 windows forward, as gc_window_forward takes each: returns 0, writing
/// nothing, when a window holds a NaN (one test on the sum, which is also NaN for +inf with
/// -inf: the scalar path sorts that out). The maxima are bit selects, so a tie of +0 and -0
/// picks the same zero as the scalar rule.
#define GC_POOL_FORWARD(name, V, W, VI, any)                                                                      \
    static inline __attribute__((always_inline)) int GC_TNAME(name)(const float *top_row, const float *bottom_row, \
                                                                    float *out) {                                  \
        W top, bottom;                                                                                             \
        __builtin_memcpy(&top, top_row, sizeof top);                                                               \
        __builtin_memcpy(&bottom, bottom_row, sizeof bottom);                                                      \
        const V a = top.even, b = top.odd, c = bottom.even, d = bottom.odd;                                        \
        const V s = a + b + c + d;                                                                                 \
        if (any(s != s)) return 0;                                                                                 \
        const VI tab = b >= a, tcd = d >= c;                                                                       \
        const VI ab = ((VI)b & tab) | ((VI)a & ~tab), cd = ((VI)d & tcd) | ((VI)c & ~tcd);                         \
        const VI t = (V)cd >= (V)ab;                                                                               \
        const V m = (V)((cd & t) | (ab & ~t));                                                                     \
        __builtin_memcpy(out, &m, sizeof m);                                                                       \
        return 1;                                                                                                  \
    }
GC_POOL_FORWARD(pool_forward8, gc_tv8, gc_tv16, gc_tv8i, gc_any8)
GC_POOL_FORWARD(pool_forward4, gc_tv4, gc_tv8, gc_tv4i, gc_any4)
#undef GC_POOL_FORWARD

/// Row pairs of each plane, eight windows at a time (four in rows of 4-7 windows), a row's
/// last block moved back to end at the row's end (the overlapped windows are stored twice,
/// with the same values).
static void GC_TNAME(maxpool2x2_forward)(const float *x, float *y, long h, long w, long oh, long ow, long begin,
                                         long end) {
    const long lanes = ow >= 8 ? 8 : ow >= 4 ? 4 : 0;
    for (long p = begin; p < end; p++) {
        const float *plane = x + p * h * w;
        float *out = y + p * oh * ow;
        for (long oi = 0; oi < oh; oi++) {
            const float *r0 = plane + 2 * oi * w, *r1 = r0 + w;
            float *o = out + oi * ow;
            if (lanes == 0) {
                for (long k = 0; k < ow; k++) o[k] = gc_window_forward(r0, r1, k);
                continue;
            }
            for (long at = 0; at < ow; at += lanes) {
                const long oj = at + lanes <= ow ? at : ow - lanes;
                const int done = lanes == 8 ? GC_TNAME(pool_forward8)(r0 + 2 * oj, r1 + 2 * oj, o + oj)
                                            : GC_TNAME(pool_forward4)(r0 + 2 * oj, r1 + 2 * oj, o + oj);
                if (!done)
                    for (long k = oj; k < oj + lanes; k++) o[k] = gc_window_forward(r0, r1, k);
            }
        }
    }
}

#undef GC_TCAT2
#undef GC_TCAT
#undef GC_TNAME
