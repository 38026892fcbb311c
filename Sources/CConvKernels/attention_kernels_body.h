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

static void GC_ANAME(additive_scores_dec_grad)(const float *dy, const float *enc, const float *dec, const float *w,
                                               float *dd, long regions, long width, long begin, long end) {
    const long full = width - width % 16;
    for (long b = begin; b < end; b++) {
        const float *d = dec + b * width;
        float *o = dd + b * width;
        long k = 0;
        for (; k < full; k += 16) {
            const v16 dv = GC_LOAD16(d + k);
            v16 sum = {0};
            for (long n = 0; n < regions; n++) {
                const long r = b * regions + n;
                const v16 x = GC_LOAD16(enc + r * width + k) + dv;
                const float g = dy[r];
                sum = sum + (v16)((i16v)SPLAT16(g) & ~(x <= (v16){0}));
            }
            GC_STORE16(o + k, sum * GC_LOAD16(w + k));
        }
        for (; k < width; k++) {
            float sum = 0;
            for (long n = 0; n < regions; n++) {
                const long r = b * regions + n;
                const float x = enc[r * width + k] + d[k];
                if (!(x <= 0)) sum += dy[r];
            }
            o[k] = sum * w[k];
        }
    }
}

static void GC_ANAME(additive_scores_weight_partials)(const float *dy, const float *enc, const float *dec, float *partials,
                                                      long regions, long width, long begin, long end) {
    const long full = width - width % 16;
    for (long b = begin; b < end; b++) {
        const float *d = dec + b * width;
        float *p = partials + b * width;
        long k = 0;
        for (; k < full; k += 16) {
            const v16 dv = GC_LOAD16(d + k);
            v16 sum = {0};
            for (long n = 0; n < regions; n++) {
                const long r = b * regions + n;
                const float g = dy[r];
                sum = sum + SPLAT16(g) * relu16(GC_LOAD16(enc + r * width + k) + dv);
            }
            GC_STORE16(p + k, sum);
        }
        for (; k < width; k++) {
            float sum = 0;
            for (long n = 0; n < regions; n++) {
                const long r = b * regions + n;
                const float x = enc[r * width + k] + d[k];
                sum += dy[r] * (x < 0 ? 0 : x);
            }
            p[k] = sum;
        }
    }
}

#undef GC_ANAME
#undef GC_ACAT
#undef GC_ACAT2
