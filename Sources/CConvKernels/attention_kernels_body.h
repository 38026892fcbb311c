// The attention-score kernels, compiled once per instruction set (attention_kernels.c
// includes instantiate_isa.h, which defines ISA inside a `#pragma clang attribute` target
// region). 16 lanes of the attention width at a time (v16, split by the compiler into the
// ISA's registers), then the tail in a window of the row's last 16 lanes (GC_TAIL_LANES), or
// one by one for a width below 16. `a + b * c` contracts to a fused multiply-add
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
/// The tail of a row of width >= 16 that is not a whole 16-lane block (the decoders' attention
/// width is 100: 6 blocks and 4 lanes) is read as the row's last 16 floats, a window that
/// overlaps the last whole block: its lanes from 16 - rest on are the `rest` tail elements.
/// Reading the window stays inside the row, and the tail takes vector code instead of a
/// scalar loop (with a branch per element) for each row. GC_TAIL_LANES(rest) is -1 in those
/// lanes and 0 in the overlapped ones.
#define GC_TAIL_LANES(rest) \
    ((i16v){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15} >= (i16v){0} + (int)(16 - (rest)))
/// Stores v's tail lanes at p (the window), keeping the overlapped lanes as they are.
#define GC_STORE_TAIL16(p, v, lanes) \
    GC_STORE16(p, (v16)(((i16v)(v) & (lanes)) | ((i16v)GC_LOAD16(p) & ~(lanes))))
#endif

#ifndef GC_HALVES
/// One level of the lane tree for two vectors at once: the result's lanes hold, in order,
/// lane i + lane i + h of each group of 2h lanes of a, then of b (groups of 2h in a and b
/// become groups of h). Every sum is one the row-by-row tree makes (its operands swapped at
/// most), so the bits are those of summing each row's lanes alone.
#define GC_HALVES(a, b, ...) \
    (__builtin_shufflevector(a, b, GC_HALF_LO_##__VA_ARGS__) + __builtin_shufflevector(a, b, GC_HALF_HI_##__VA_ARGS__))
#define GC_HALF_LO_8 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23
#define GC_HALF_HI_8 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
#define GC_HALF_LO_4 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27
#define GC_HALF_HI_4 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31
#define GC_HALF_LO_2 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29
#define GC_HALF_HI_2 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31
#define GC_HALF_LO_1 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30
#define GC_HALF_HI_1 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31
#endif

/// The sum over a row's 16-lane blocks (and its tail window, GC_TAIL_LANES, when `window`):
/// one vector of lane partials.
__attribute__((always_inline)) static inline v16 GC_ANAME(score_lanes)(const float *e, const float *d, const float *w,
                                                                        long full, long last, int window,
                                                                        i16v tailLanes) {
    v16 acc = {0};
    for (long k = 0; k < full; k += 16) acc = acc + GC_LOAD16(w + k) * relu16(GC_LOAD16(e + k) + GC_LOAD16(d + k));
    // Both factors masked: the overlapped lanes add 0 * 0, not w * 0 (NaN for an infinite w,
    // where the row's sum is infinite).
    if (window)
        acc = acc + (v16)((i16v)GC_LOAD16(w + last) & tailLanes) *
                        (v16)((i16v)relu16(GC_LOAD16(e + last) + GC_LOAD16(d + last)) & tailLanes);
    return acc;
}

/// Each row's lanes are summed in a fixed tree (halves, then halves of those), for 16 rows at
/// a time by GC_HALVES where the rows allow it, else row by row, with the same bits. The tail
/// is summed by the window (GC_TAIL_LANES) where the width allows one: the tail elements'
/// terms join the vector's last lanes before the tree; below 16 lanes, one by one after it.
static void GC_ANAME(additive_scores)(const float *enc, const float *dec, const float *w, float *y, long regions,
                                      long width, long begin, long end) {
    if (regions <= 0 || begin >= end) return;
    const long full = width - width % 16, rest = width - full, last = width - 16;
    const int window = rest > 0 && width >= 16;
    const i16v tailLanes = GC_TAIL_LANES(rest);
    long b = begin / regions, n = begin % regions;
    long r = begin;
    if (window || rest == 0)
        for (; r + 16 <= end; r += 16) {
            v16 t8[8], t4[4], t2[2];
            for (int pair = 0; pair < 8; pair++) {
                v16 two[2];
                for (int i = 0; i < 2; i++) {
                    two[i] = GC_ANAME(score_lanes)(enc + (r + 2 * pair + i) * width, dec + b * width, w, full, last,
                                                   window, tailLanes);
                    if (++n == regions) n = 0, b++;
                }
                t8[pair] = GC_HALVES(two[0], two[1], 8);
            }
            for (int i = 0; i < 4; i++) t4[i] = GC_HALVES(t8[2 * i], t8[2 * i + 1], 4);
            for (int i = 0; i < 2; i++) t2[i] = GC_HALVES(t4[2 * i], t4[2 * i + 1], 2);
            GC_STORE16(y + r, GC_HALVES(t2[0], t2[1], 1));
        }
    for (; r < end; r++) {
        const float *e = enc + r * width, *d = dec + b * width;
        if (++n == regions) n = 0, b++;
        const v16 acc = GC_ANAME(score_lanes)(e, d, w, full, last, window, tailLanes);
        float lanes[16];
        __builtin_memcpy(lanes, &acc, sizeof lanes);
        for (int h = 8; h >= 1; h /= 2)
            for (int i = 0; i < h; i++) lanes[i] += lanes[i + h];
        float total = lanes[0];
        if (!window)
            for (long k = full; k < width; k++) {
                const float x = e[k] + d[k];
                total += w[k] * (x < 0 ? 0 : x);
            }
        y[r] = total;
    }
}

static void GC_ANAME(additive_scores_grad)(const float *dy, const float *enc, const float *dec, const float *w,
                                           const float *acc, float *out, long regions, long width, long begin, long end) {
    if (regions <= 0 || begin >= end) return;
    const long full = width - width % 16, rest = width - full, last = width - 16;
    const int window = rest > 0 && width >= 16;
    const i16v tailLanes = GC_TAIL_LANES(rest);
    long b = begin / regions, n = begin % regions;
    for (long r = begin; r < end; r++) {
        const float *e = enc + r * width, *d = dec + b * width;
        if (++n == regions) n = 0, b++;
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
        if (window) {
            // The overlapped lanes already hold their results (acc may be out: they must not
            // be added to twice), so only the tail lanes are stored.
            const v16 x = GC_LOAD16(e + last) + GC_LOAD16(d + last);
            v16 v = (v16)((i16v)(gv * GC_LOAD16(w + last)) & ~(x <= (v16){0}));
            if (acc) v = GC_LOAD16(acc + r * width + last) + v;
            GC_STORE_TAIL16(o + last, v, tailLanes);
            continue;
        }
        for (; k < width; k++) {
            const float v = e[k] + d[k] > 0 || e[k] + d[k] != e[k] + d[k] ? g * w[k] : 0;
            o[k] = acc ? acc[r * width + k] + v : v;
        }
    }
}

/// additive_scores_grad of `steps` steps summed, as the chain additive_scores_grad(dy_0),
/// then additive_scores_grad(dy_s, acc) for s = 1, 2, ... sums them: each element takes the
/// same terms in the same order (so the same bits), but each row of enc is read, and out
/// written, once for all the steps, with the running sums in registers, instead of enc read
/// and out read and written once per step.
static void GC_ANAME(additive_scores_grad_sum)(const float *const *dys, const float *const *decs, long steps,
                                               const float *enc, const float *w, float *out, long regions, long width,
                                               long begin, long end) {
    if (regions <= 0 || begin >= end || steps <= 0) return;
    const long full = width - width % 16, rest = width - full, last = width - 16;
    const int window = rest > 0 && width >= 16;
    const i16v tailLanes = GC_TAIL_LANES(rest);
    long b = begin / regions, n = begin % regions;
    for (long r = begin; r < end; r++) {
        const float *e = enc + r * width;
        const long row = b * width;
        if (++n == regions) n = 0, b++;
        float *o = out + r * width;
        long k = 0;
        for (; k < full; k += 16) {
            const v16 ev = GC_LOAD16(e + k), wv = GC_LOAD16(w + k);
            v16 sum = {0};
            for (long s = 0; s < steps; s++) {
                const v16 x = ev + GC_LOAD16(decs[s] + row + k);
                const v16 v = (v16)((i16v)(SPLAT16(dys[s][r]) * wv) & ~(x <= (v16){0}));
                sum = s == 0 ? v : sum + v;
            }
            GC_STORE16(o + k, sum);
        }
        if (window) {
            // The overlapped lanes hold their sums already: only the tail lanes are stored.
            const v16 ev = GC_LOAD16(e + last), wv = GC_LOAD16(w + last);
            v16 sum = {0};
            for (long s = 0; s < steps; s++) {
                const v16 x = ev + GC_LOAD16(decs[s] + row + last);
                const v16 v = (v16)((i16v)(SPLAT16(dys[s][r]) * wv) & ~(x <= (v16){0}));
                sum = s == 0 ? v : sum + v;
            }
            GC_STORE_TAIL16(o + last, sum, tailLanes);
            continue;
        }
        for (; k < width; k++) {
            float sum = 0;
            for (long s = 0; s < steps; s++) {
                const float *d = decs[s] + row;
                const float v = e[k] + d[k] > 0 || e[k] + d[k] != e[k] + d[k] ? dys[s][r] * w[k] : 0;
                sum = s == 0 ? v : sum + v;
            }
            o[k] = sum;
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

#ifndef GC_SUM_WINDOW_avx512
/// Whether the sums over the regions take the tail window (one more vector of sums beside
/// GC_SUM_BLOCKS of them): where 32 registers hold them. With 16 AVX2 or SSE2 registers the
/// extra sums spill and the scalar tail is the faster one.
#define GC_SUM_WINDOW_avx512 1
#define GC_SUM_WINDOW_avx2 0
#define GC_SUM_WINDOW_base 0
#endif

/// The gradient of dec for batch row b, lanes [k0, k0 + 16 blocks) and, when `tail`, the
/// lanes from `full` to `width`. `blocks` is a constant at every call (see the switch below),
/// so the sums stay in registers.
__attribute__((always_inline)) static inline void GC_ANAME(dec_grad_lanes)(
    const float *dy, const float *enc, const float *d, const float *w, float *o, long regions, long width, long b,
    long k0, long blocks, long full, int tail) {
    v16 sum[GC_SUM_BLOCKS], windowSum = {0};
    float tails[16];
    const long last = width - 16;
    const int window = GC_ACAT(GC_SUM_WINDOW, ISA) && tail && full < width && width >= 16;
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
        if (window) {
            const v16 x = GC_LOAD16(e + last) + GC_LOAD16(d + last);
            windowSum = windowSum + (v16)((i16v)SPLAT16(g) & ~(x <= (v16){0}));
        } else if (tail)
            for (long k = full; k < width; k++) {
                const float x = e[k] + d[k];
                if (!(x <= 0)) tails[k - full] += g;
            }
    }
    for (long j = 0; j < blocks; j++) GC_STORE16(o + k0 + 16 * j, sum[j] * GC_LOAD16(w + k0 + 16 * j));
    if (window)
        GC_STORE_TAIL16(o + last, windowSum * GC_LOAD16(w + last), GC_TAIL_LANES(width - full));
    else if (tail)
        for (long k = full; k < width; k++) o[k] = tails[k - full] * w[k];
}

/// The weight's gradient's partial sum for batch row b, over the same lanes as
/// dec_grad_lanes.
__attribute__((always_inline)) static inline void GC_ANAME(weight_partial_lanes)(
    const float *dy, const float *enc, const float *d, float *p, long regions, long width, long b, long k0, long blocks,
    long full, int tail) {
    v16 sum[GC_SUM_BLOCKS], windowSum = {0};
    float tails[16];
    const long last = width - 16;
    const int window = GC_ACAT(GC_SUM_WINDOW, ISA) && tail && full < width && width >= 16;
    for (long j = 0; j < blocks; j++) sum[j] = (v16){0};
    for (long k = 0; k < 16; k++) tails[k] = 0;
    for (long n = 0; n < regions; n++) {
        const long r = b * regions + n;
        const float *e = enc + r * width;
        const float g = dy[r];
        for (long j = 0; j < blocks; j++)
            sum[j] = sum[j] + SPLAT16(g) * relu16(GC_LOAD16(e + k0 + 16 * j) + GC_LOAD16(d + k0 + 16 * j));
        if (window)
            windowSum = windowSum + SPLAT16(g) * relu16(GC_LOAD16(e + last) + GC_LOAD16(d + last));
        else if (tail)
            for (long k = full; k < width; k++) {
                const float x = e[k] + d[k];
                tails[k - full] += g * (x < 0 ? 0 : x);
            }
    }
    for (long j = 0; j < blocks; j++) GC_STORE16(p + k0 + 16 * j, sum[j]);
    if (window)
        GC_STORE_TAIL16(p + last, windowSum, GC_TAIL_LANES(width - full));
    else if (tail)
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
