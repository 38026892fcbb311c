// The attention-score kernels, compiled once per instruction set (attention_kernels.c
// includes instantiate_isa.h, which defines ISA inside a `#pragma clang attribute` target
// region). 16 lanes of the attention width at a time (v16, split by the compiler into the
// ISA's registers), then the tail one by one. `a + b * c` contracts to a fused multiply-add
// where the ISA has one (clang's default -ffp-contract=on), so results differ between
// instruction sets by rounding, never between runs or thread counts.

#define GC_ACAT2(a, b) a##_##b
#define GC_ACAT(a, b) GC_ACAT2(a, b)
#define GC_ANAME(n) GC_ACAT(n, ISA)

#ifndef GC_LOAD16
/// 16 floats from (to) memory aligned to a float only (macros: a function returning a vector
/// would need its ISA in the signature).
#define GC_LOAD16(p) (*(const v16u *)(p))
#define GC_STORE16(p, v) (*(v16u *)(p) = (v))
#endif

static void GC_ANAME(additive_scores)(const float *enc, const float *dec, const float *w, float *y, long regions,
                                      long width, long begin, long end) {
    const long full = width - width % 16;
    for (long r = begin; r < end; r++) {
        const float *e = enc + r * width, *d = dec + (r / regions) * width;
        v16 acc = {0};
        long k = 0;
        for (; k < full; k += 16) acc = acc + GC_LOAD16(w + k) * relu16(GC_LOAD16(e + k) + GC_LOAD16(d + k));
        // The lanes in a fixed tree: halves, then halves of those.
        float lanes[16];
        __builtin_memcpy(lanes, &acc, sizeof lanes);
        for (int h = 8; h >= 1; h /= 2)
            for (int i = 0; i < h; i++) lanes[i] += lanes[i + h];
        float total = lanes[0];
        for (; k < width; k++) {
            const float x = e[k] + d[k];
            total += w[k] * (x < 0 ? 0 : x);
        }
        y[r] = total;
    }
}

static void GC_ANAME(additive_scores_grad)(const float *dy, const float *enc, const float *dec, const float *w,
                                           const float *acc, float *out, long regions, long width, long begin, long end) {
    const long full = width - width % 16;
    for (long r = begin; r < end; r++) {
        const float *e = enc + r * width, *d = dec + (r / regions) * width;
        float *o = out + r * width;
        const float g = dy[r];
        const v16 gv = SPLAT16(g);
        long k = 0;
        for (; k < full; k += 16) {
            const v16 x = GC_LOAD16(e + k) + GC_LOAD16(d + k);
            v16 v = (v16)((i16v)(gv * GC_LOAD16(w + k)) & ~(x <= (v16){0}));
            if (acc) v = GC_LOAD16(acc + r * width + k) + v;
            GC_STORE16(o + k, v);
        }
        for (; k < width; k++) {
            const float v = e[k] + d[k] > 0 || e[k] + d[k] != e[k] + d[k] ? g * w[k] : 0;
            o[k] = acc ? acc[r * width + k] + v : v;
        }
    }
}

// The two sums over the regions (the gradients of dec and of w) walk enc row by row, each
// row read once and in order, with the sums of up to GC_SUM_BLOCKS 16-lane blocks of the
// attention width held in registers (then the next blocks, for a wider attention); the last
// pass also sums the tail lanes. Walking the width block by block instead (all the rows for
// one block, then the next) reads an example's enc once per block, from L2 rather than L1.
// Each lane still sums the regions in order, with the same expression as before.
#ifndef GC_SUM_BLOCKS
#define GC_SUM_BLOCKS 8
#endif
// GC_FOR_EACH_LANE_PASS spells out the block counts 1 to 8: a larger count would skip lanes.
_Static_assert(GC_SUM_BLOCKS >= 1 && GC_SUM_BLOCKS <= 8, "GC_SUM_BLOCKS must be 1 to 8");

/// The gradient of dec for batch row b, lanes [k0, k0 + 16 blocks) and, when `tail`, the
/// lanes from `full` to `width`. `blocks` is a constant at every call (see the switch below),
/// so the sums stay in registers.
__attribute__((always_inline)) static inline void GC_ANAME(dec_grad_lanes)(
    const float *dy, const float *enc, const float *d, const float *w, float *o, long regions, long width, long b,
    long k0, long blocks, long full, int tail) {
    v16 sum[GC_SUM_BLOCKS];
    float tails[16];
    for (long j = 0; j < blocks; j++) sum[j] = (v16){0};
    for (long k = 0; k < 16; k++) tails[k] = 0;
    for (long n = 0; n < regions; n++) {
        const long r = b * regions + n;
        const float *e = enc + r * width;
        const float g = dy[r];
        for (long j = 0; j < blocks; j++) {
            const v16 x = GC_LOAD16(e + k0 + 16 * j) + GC_LOAD16(d + k0 + 16 * j);
            sum[j] = sum[j] + (v16)((i16v)SPLAT16(g) & ~(x <= (v16){0}));
        }
        if (tail)
            for (long k = full; k < width; k++) {
                const float x = e[k] + d[k];
                if (!(x <= 0)) tails[k - full] += g;
            }
    }
    for (long j = 0; j < blocks; j++) GC_STORE16(o + k0 + 16 * j, sum[j] * GC_LOAD16(w + k0 + 16 * j));
    if (tail)
        for (long k = full; k < width; k++) o[k] = tails[k - full] * w[k];
}

/// The weight's gradient's partial sum for batch row b, over the same lanes as
/// dec_grad_lanes.
__attribute__((always_inline)) static inline void GC_ANAME(weight_partial_lanes)(
    const float *dy, const float *enc, const float *d, float *p, long regions, long width, long b, long k0, long blocks,
    long full, int tail) {
    v16 sum[GC_SUM_BLOCKS];
    float tails[16];
    for (long j = 0; j < blocks; j++) sum[j] = (v16){0};
    for (long k = 0; k < 16; k++) tails[k] = 0;
    for (long n = 0; n < regions; n++) {
        const long r = b * regions + n;
        const float *e = enc + r * width;
        const float g = dy[r];
        for (long j = 0; j < blocks; j++)
            sum[j] = sum[j] + SPLAT16(g) * relu16(GC_LOAD16(e + k0 + 16 * j) + GC_LOAD16(d + k0 + 16 * j));
        if (tail)
            for (long k = full; k < width; k++) {
                const float x = e[k] + d[k];
                tails[k - full] += g * (x < 0 ? 0 : x);
            }
    }
    for (long j = 0; j < blocks; j++) GC_STORE16(p + k0 + 16 * j, sum[j]);
    if (tail)
        for (long k = full; k < width; k++) p[k] = tails[k - full];
}

/// Calls `lanes(..., k0, blocks, full, tail)` for each pass over a batch row's regions, with
/// `blocks` a literal in each case.
#define GC_FOR_EACH_LANE_PASS(lanes, ...)                                                       \
    for (long k0 = 0;; k0 += 16 * GC_SUM_BLOCKS) {                                              \
        const long left = (full - k0) / 16;                                                     \
        const long blocks = left < GC_SUM_BLOCKS ? left : GC_SUM_BLOCKS;                        \
        const int tail = k0 + 16 * blocks >= full;                                              \
        switch (blocks) {                                                                       \
            case 8: lanes(__VA_ARGS__, k0, 8, full, tail); break;                               \
            case 7: lanes(__VA_ARGS__, k0, 7, full, tail); break;                               \
            case 6: lanes(__VA_ARGS__, k0, 6, full, tail); break;                               \
            case 5: lanes(__VA_ARGS__, k0, 5, full, tail); break;                               \
            case 4: lanes(__VA_ARGS__, k0, 4, full, tail); break;                               \
            case 3: lanes(__VA_ARGS__, k0, 3, full, tail); break;                               \
            case 2: lanes(__VA_ARGS__, k0, 2, full, tail); break;                               \
            case 1: lanes(__VA_ARGS__, k0, 1, full, tail); break;                               \
            default: lanes(__VA_ARGS__, k0, 0, full, tail); break;                              \
        }                                                                                       \
        if (tail) break;                                                                        \
    }

static void GC_ANAME(additive_scores_dec_grad)(const float *dy, const float *enc, const float *dec, const float *w,
                                               float *dd, long regions, long width, long begin, long end) {
    const long full = width - width % 16;
    for (long b = begin; b < end; b++) {
        GC_FOR_EACH_LANE_PASS(GC_ANAME(dec_grad_lanes), dy, enc, dec + b * width, w, dd + b * width, regions, width, b)
    }
}

static void GC_ANAME(additive_scores_weight_partials)(const float *dy, const float *enc, const float *dec, float *partials,
                                                      long regions, long width, long begin, long end) {
    const long full = width - width % 16;
    for (long b = begin; b < end; b++) {
        GC_FOR_EACH_LANE_PASS(GC_ANAME(weight_partial_lanes), dy, enc, dec + b * width, partials + b * width, regions,
                              width, b)
    }
}

#undef GC_FOR_EACH_LANE_PASS
#undef GC_ANAME
#undef GC_ACAT
#undef GC_ACAT2
