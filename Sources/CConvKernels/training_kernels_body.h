// The training kernels, compiled once per instruction set (training_kernels.c includes
// instantiate_isa.h, which defines ISA, a name suffix, inside a `#pragma clang attribute`
// target region). Vectors are clang extended vectors; the compiler splits them into the
// ISA's registers.

#define GC_TCAT2(a, b) a##_##b
#define GC_TCAT(a, b) GC_TCAT2(a, b)
#define GC_TNAME(n) GC_TCAT(n, ISA)

/// A span of `n` (16, 8 or 4) columns of a row pair, n / 2 windows, each value kept in its own
/// lane: a lane's window partner in the same row is the next or previous lane (SWAP), the
/// other row's value is the same lane of the other row, so no deinterleaving is needed and the
/// gradients are stored as they are laid out. Every lane gets its window's maximum m; a value
/// is the window's first maximum when it equals m and no value before it in scan order (a b /
/// c d: the previous lane of an odd lane, PRIOR, and the top row for the bottom one) does.
/// Without NaNs that is the scan's first strict maximum. Returns 0, writing nothing, when a
/// window holds a NaN (one test on top + bottom, also NaN for +inf over -inf: the scalar
/// scan sorts that out).
/// The larger of two NaN-free vectors (either zero where they tie: only compared with ==), as
/// one max instruction: __builtin_elementwise_max would add the NaN handling.
#define GC_MAX(p, q) ((p) > (q) ? (p) : (q))
#define GC_POOL_BACKWARD(name, V, VI, H, any, SWAP, PRIOR, DUP)                                                   \
    static inline __attribute__((always_inline)) int GC_TNAME(name)(const float *top_row, const float *bottom_row, \
                                                                    const float *g, float *d0, float *d1, int relu) { \
        V top, bottom;                                                                                             \
        H gh;                                                                                                      \
        __builtin_memcpy(&top, top_row, sizeof top);                                                               \
        __builtin_memcpy(&bottom, bottom_row, sizeof bottom);                                                      \
        __builtin_memcpy(&gh, g, sizeof gh);                                                                       \
        const V s = top + bottom;                                                                                  \
        if (any(s != s)) return 0;                                                                                 \
        const V m = GC_MAX(GC_MAX(top, __builtin_shufflevector(top, top, SWAP)),                                  \
                           GC_MAX(bottom, __builtin_shufflevector(bottom, bottom, SWAP)));                          \
        const VI zero = {0}, et = top == m, eb = bottom == m;                                                      \
        const VI upper = et & ~__builtin_shufflevector(et, zero, PRIOR);                                           \
        const VI lower = eb & ~(et | __builtin_shufflevector(et, et, SWAP)) & ~__builtin_shufflevector(eb, zero, PRIOR); \
        VI gi = (VI)__builtin_shufflevector(gh, gh, DUP);                                                          \
        if (relu) gi &= (m > (V){0});                                                                              \
        const V o0 = (V)(gi & upper), o1 = (V)(gi & lower);                                                        \
        __builtin_memcpy(d0, &o0, sizeof o0);                                                                      \
        __builtin_memcpy(d1, &o1, sizeof o1);                                                                      \
        return 1;                                                                                                  \
    }
GC_POOL_BACKWARD(pool_backward16, gc_tv16, gc_tv16i, gc_tv8, gc_any, GC_SWAP16, GC_PRIOR16, GC_DUP16)
GC_POOL_BACKWARD(pool_backward8, gc_tv8, gc_tv8i, gc_tv4, gc_any, GC_SWAP8, GC_PRIOR8, GC_DUP8)
GC_POOL_BACKWARD(pool_backward4, gc_tv4, gc_tv4i, gc_tv2, gc_any, GC_SWAP4, GC_PRIOR4, GC_DUP4)
#undef GC_POOL_BACKWARD
#undef GC_MAX

/// The forward of a span as GC_POOL_BACKWARD lays it out: on each even lane (a window's a and
/// c) the window's maximum as gc_window_forward takes it, `max(max(a, b), max(c, d))` with
/// `max(p, q) = q >= p ? q : p` as bit selects (so a tie of +0 and -0 picks the same zero as
/// the scalar rule), the even lanes then packed into the n / 2 outputs. Returns 0, writing
/// nothing, when a window holds a NaN (the same test as the backward's).
#define GC_POOL_FORWARD(name, V, VI, H, any, SWAP, EVEN)                                                          \
    static inline __attribute__((always_inline)) int GC_TNAME(name)(const float *top_row, const float *bottom_row, \
                                                                    float *out) {                                  \
        V top, bottom;                                                                                             \
        __builtin_memcpy(&top, top_row, sizeof top);                                                               \
        __builtin_memcpy(&bottom, bottom_row, sizeof bottom);                                                      \
        const V s = top + bottom;                                                                                  \
        if (any(s != s)) return 0;                                                                                 \
        const V b = __builtin_shufflevector(top, top, SWAP), d = __builtin_shufflevector(bottom, bottom, SWAP);     \
        const VI tab = b >= top, tcd = d >= bottom;                                                                \
        const VI ab = ((VI)b & tab) | ((VI)top & ~tab), cd = ((VI)d & tcd) | ((VI)bottom & ~tcd);                  \
        const VI t = (V)cd >= (V)ab;                                                                               \
        const VI m = (cd & t) | (ab & ~t);                                                                         \
        const H packed = (H)__builtin_shufflevector(m, m, EVEN);                                                   \
        __builtin_memcpy(out, &packed, sizeof packed);                                                             \
        return 1;                                                                                                  \
    }
GC_POOL_FORWARD(pool_forward16, gc_tv16, gc_tv16i, gc_tv8, gc_any, GC_SWAP16, GC_EVEN16)
GC_POOL_FORWARD(pool_forward8, gc_tv8, gc_tv8i, gc_tv4, gc_any, GC_SWAP8, GC_EVEN8)
GC_POOL_FORWARD(pool_forward4, gc_tv4, gc_tv4i, gc_tv2, gc_any, GC_SWAP4, GC_EVEN4)
#undef GC_POOL_FORWARD

/// Windows [k0, k1) of a row pair by the scalar rules: the spans' rare NaN path, out of line
/// so that the span loops keep their registers.
static __attribute__((noinline)) void GC_TNAME(windows_backward)(const float *r0, const float *r1, float *d0, float *d1,
                                                                 const float *g, long k0, long k1, int relu) {
    for (long k = k0; k < k1; k++) gc_window_backward(r0, r1, d0, d1, g, k, relu);
}
static __attribute__((noinline)) void GC_TNAME(windows_forward)(const float *r0, const float *r1, float *o, long k0,
                                                                long k1) {
    for (long k = k0; k < k1; k++) o[k] = gc_window_forward(r0, r1, k);
}

/// Max-pool backward over planes [begin, end) with spans of `n` columns (GC_POOL_BACKWARD),
/// the last of a row moved back to end at the row's end, overlapping the one before (its
/// windows are written twice with the same values: stores, not sums); windows in a span
/// holding a NaN by the scalar scan. Every other element of dx, in rows and columns no window
/// covers, is written 0. One function per span width, so each row loop runs one kind of span.
#define GC_POOL_BACKWARD_PLANES(n)                                                                                 \
    static __attribute__((noinline)) void GC_TNAME(maxpool2x2_backward##n)(const float *x, const float *dy, float *dx, long h, long w,     \
                                                 long oh, long ow, int relu, long begin, long end) {             \
        const long cols = 2 * ow;                                                                                 \
        for (long p = begin; p < end; p++) {                                                                      \
            const float *plane = x + p * h * w, *grad = dy + p * oh * ow;                                         \
            float *out = dx + p * h * w;                                                                          \
            for (long oi = 0; oi < oh; oi++) {                                                                    \
                const float *r0 = plane + 2 * oi * w, *r1 = r0 + w, *g = grad + oi * ow;                          \
                float *d0 = out + 2 * oi * w, *d1 = d0 + w;                                                       \
                for (long at = 0; at < cols; at += (n)) {                                                         \
                    const long c = at + (n) <= cols ? at : cols - (n);                                            \
                    if (!GC_TNAME(pool_backward##n)(r0 + c, r1 + c, g + c / 2, d0 + c, d1 + c, relu))             \
                        GC_TNAME(windows_backward)(r0, r1, d0, d1, g, c / 2, (c + (n)) / 2, relu);                   \
                }                                                                                                 \
                for (long j = cols; j < w; j++) { d0[j] = 0; d1[j] = 0; }                                         \
            }                                                                                                     \
            for (long i = 2 * oh * w; i < h * w; i++) out[i] = 0;                                                 \
        }                                                                                                         \
    }
GC_POOL_BACKWARD_PLANES(16)
GC_POOL_BACKWARD_PLANES(8)
GC_POOL_BACKWARD_PLANES(4)
#undef GC_POOL_BACKWARD_PLANES

/// The forward over planes [begin, end) in spans of `n` columns (GC_POOL_FORWARD), laid out as
/// the backward's.
#define GC_POOL_FORWARD_PLANES(n)                                                                                  \
    static __attribute__((noinline)) void GC_TNAME(maxpool2x2_forward##n)(const float *x, float *y, long h, long w, long oh, long ow,       \
                                                long begin, long end) {                                           \
        const long cols = 2 * ow;                                                                                 \
        for (long p = begin; p < end; p++) {                                                                      \
            const float *plane = x + p * h * w;                                                                   \
            float *out = y + p * oh * ow;                                                                         \
            for (long oi = 0; oi < oh; oi++) {                                                                    \
                const float *r0 = plane + 2 * oi * w, *r1 = r0 + w;                                               \
                float *o = out + oi * ow;                                                                         \
                for (long at = 0; at < cols; at += (n)) {                                                         \
                    const long c = at + (n) <= cols ? at : cols - (n);                                            \
                    if (!GC_TNAME(pool_forward##n)(r0 + c, r1 + c, o + c / 2))                                    \
                        GC_TNAME(windows_forward)(r0, r1, o, c / 2, (c + (n)) / 2);                               \
                }                                                                                                 \
            }                                                                                                     \
        }                                                                                                         \
    }
GC_POOL_FORWARD_PLANES(16)
GC_POOL_FORWARD_PLANES(8)
GC_POOL_FORWARD_PLANES(4)
#undef GC_POOL_FORWARD_PLANES

/// Rows of ow windows in spans of the widest of 16, 8 or 4 columns that fits; rows of one
/// window by the scalar scan.
static void GC_TNAME(maxpool2x2_backward)(const float *x, const float *dy, float *dx, long h, long w, long oh,
                                          long ow, int relu, long begin, long end) {
    if (ow >= 8) return GC_TNAME(maxpool2x2_backward16)(x, dy, dx, h, w, oh, ow, relu, begin, end);
    if (ow >= 4) return GC_TNAME(maxpool2x2_backward8)(x, dy, dx, h, w, oh, ow, relu, begin, end);
    if (ow >= 2) return GC_TNAME(maxpool2x2_backward4)(x, dy, dx, h, w, oh, ow, relu, begin, end);
    for (long p = begin; p < end; p++) {
        const float *plane = x + p * h * w, *grad = dy + p * oh * ow;
        float *out = dx + p * h * w;
        for (long i = 0; i < h * w; i++) out[i] = 0;
        for (long oi = 0; oi < oh; oi++)
            for (long k = 0; k < ow; k++)
                gc_window_backward(plane + 2 * oi * w, plane + (2 * oi + 1) * w, out + 2 * oi * w, out + (2 * oi + 1) * w,
                                   grad + oi * ow, k, relu);
    }
}

/// The forward's rows as the backward's (spans of 16, 8 or 4 columns, or single windows).
static void GC_TNAME(maxpool2x2_forward)(const float *x, float *y, long h, long w, long oh, long ow, long begin,
                                         long end) {
    if (ow >= 8) return GC_TNAME(maxpool2x2_forward16)(x, y, h, w, oh, ow, begin, end);
    if (ow >= 4) return GC_TNAME(maxpool2x2_forward8)(x, y, h, w, oh, ow, begin, end);
    if (ow >= 2) return GC_TNAME(maxpool2x2_forward4)(x, y, h, w, oh, ow, begin, end);
    for (long p = begin; p < end; p++)
        for (long oi = 0; oi < oh; oi++)
            for (long k = 0; k < ow; k++)
                y[(p * oh + oi) * ow + k] = gc_window_forward(x + (p * h + 2 * oi) * w, x + (p * h + 2 * oi + 1) * w, k);
}

#undef GC_TCAT2
#undef GC_TCAT
#undef GC_TNAME
