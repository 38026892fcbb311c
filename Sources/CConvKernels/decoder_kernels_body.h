// The caption decoders' per-step kernels, compiled once per instruction set (decoder_kernels.c
// includes instantiate_isa.h, which defines ISA inside a `#pragma clang attribute` target
// region). They compute each element with exactly the operations, in the order, of the Swift
// scalar rules they replace (GraphIR/FastMath.swift, Runtime/Training/Optimizers.swift's
// AdamRule): no fused multiply-adds (fp contract off), selects where Swift has `?:`, so every
// ISA gives the same bits as those rules.

#define GC_DCAT2(a, b) a##_##b
#define GC_DCAT(a, b) GC_DCAT2(a, b)
#define GC_DNAME(n) GC_DCAT(n, ISA)

/// fastExp of FastMath.swift, lane by lane.
static inline __attribute__((always_inline)) v16 GC_DNAME(dec_exp)(v16 x) {
#pragma clang fp contract(off)
    const v16 hi = SPLAT16(88.3762626647949f), lo = SPLAT16(-87.3365447504f), zero = {0};
    const i16v is_nan = x != x;
    v16 v = GC_SELECT(is_nan, zero, x);
    v = GC_SELECT(v > hi, hi, GC_SELECT(v < lo, lo, v));
    const v16 shifter = SPLAT16(12582912.0f);
    const v16 shifted = v * 1.44269504088896341f + shifter;
    const v16 n = shifted - shifter;
    const v16 r = v - n * 0.693359375f + n * 2.12194440e-4f;
    v16 p = SPLAT16(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const v16 y = p * r * r + r + 1.0f;
    const u16v k = (u16v)shifted - 0x4B400000u;
    const v16 scale = (v16)((k + 127u) << 23);
    v16 result = y * scale;
    result = GC_SELECT(x > hi, SPLAT16(__builtin_inff()), result);
    result = GC_SELECT(x < lo, zero, result);
    return GC_SELECT(is_nan, x, result);
}

/// fastSigmoid: 1 / (1 + e^-|x|), times e^-|x| for negative x.
static inline __attribute__((always_inline)) v16 GC_DNAME(dec_sigmoid)(v16 x) {
#pragma clang fp contract(off)
    const v16 e = GC_DNAME(dec_exp)(-__builtin_elementwise_abs(x));
    const v16 s = 1.0f / (1.0f + e);
    return GC_SELECT(x >= 0.0f, s, e * s);
}

/// fastTanh: (1 - e) / (1 + e) with e = e^-2|x|, its odd series below |x| = 1/8.
static inline __attribute__((always_inline)) v16 GC_DNAME(dec_tanh)(v16 x) {
#pragma clang fp contract(off)
    const v16 a = __builtin_elementwise_abs(x);
    const v16 e = GC_DNAME(dec_exp)(-2.0f * a);
    const v16 t = (1.0f - e) / (1.0f + e);
    const v16 x2 = x * x;
    const v16 series = x * (1.0f + x2 * (-0.333333333f + x2 * (0.133333333f + x2 * -0.053968254f)));
    const v16 large = GC_SELECT(x < 0.0f, -t, t);
    return GC_SELECT(a < 0.125f, series, large);
}

/// n floats (n <= 16) into a vector, the rest zero; and back.
static inline __attribute__((always_inline)) v16 GC_DNAME(dec_load)(const float *p, long n) {
    v16 v = {0};
    if (n >= 16) __builtin_memcpy(&v, p, sizeof v); else __builtin_memcpy(&v, p, (unsigned long)n * sizeof(float));
    return v;
}
static inline __attribute__((always_inline)) void GC_DNAME(dec_store)(float *p, v16 v, long n) {
    if (n >= 16) __builtin_memcpy(p, &v, sizeof v); else __builtin_memcpy(p, &v, (unsigned long)n * sizeof(float));
}

static void GC_DNAME(lstm_cell_forward)(const float *gates, const float *c, float *out, long rows, long h) {
#pragma clang fp contract(off)
    for (long row = 0; row < rows; row++) {
        const float *z = gates + row * 4 * h, *cp = c + row * h;
        float *o = out + row * 7 * h;
        for (long j = 0; j < h; j += 16) {
            const long w = h - j < 16 ? h - j : 16;
            const v16 i = GC_DNAME(dec_sigmoid)(GC_DNAME(dec_load)(z + j, w));
            const v16 f = GC_DNAME(dec_sigmoid)(GC_DNAME(dec_load)(z + h + j, w));
            const v16 g = GC_DNAME(dec_tanh)(GC_DNAME(dec_load)(z + 2 * h + j, w));
            const v16 og = GC_DNAME(dec_sigmoid)(GC_DNAME(dec_load)(z + 3 * h + j, w));
            const v16 cn = f * GC_DNAME(dec_load)(cp + j, w) + i * g;
            const v16 t = GC_DNAME(dec_tanh)(cn);
            GC_DNAME(dec_store)(o + j, og * t, w);
            GC_DNAME(dec_store)(o + h + j, cn, w);
            GC_DNAME(dec_store)(o + 2 * h + j, i, w);
            GC_DNAME(dec_store)(o + 3 * h + j, f, w);
            GC_DNAME(dec_store)(o + 4 * h + j, g, w);
            GC_DNAME(dec_store)(o + 5 * h + j, og, w);
            GC_DNAME(dec_store)(o + 6 * h + j, t, w);
        }
    }
}

/// lstm_cell's backward (GraphIR/Ops/LSTMCell.swift's lstm_cell_grad and
/// lstm_cell_state_grad): dgates [rows, 4h] when not NULL (c then read), dc [rows, h] when
/// not NULL. Each product and sum in the order of the unfused graph's sigmoid and tanh
/// gradients (dy * (y * (1 - y)), dy * (1 - y * y)). The result's gradient is dy [rows, 7h],
/// or when dy is NULL [dh | dcn | 0 ...] (dh, dcn [rows, h]): the zeros are added all the same.
static void GC_DNAME(lstm_cell_backward)(const float *y, const float *dy, const float *dh_in, const float *dcn_in, const float *c,
                                         float *dgates, float *dc, long rows, long h) {
#pragma clang fp contract(off)
    const v16 zero = {0};
    for (long row = 0; row < rows; row++) {
        const float *yr = y + row * 7 * h, *dyr = dy ? dy + row * 7 * h : 0;
        const float *dhr = dy ? dyr : dh_in + row * h, *dcnr = dy ? dyr + h : dcn_in + row * h;
        for (long j = 0; j < h; j += 16) {
            const long w = h - j < 16 ? h - j : 16;
#define GC_Y(k) GC_DNAME(dec_load)(yr + (k) * h + j, w)
#define GC_DY(k) (dyr ? GC_DNAME(dec_load)(dyr + (k) * h + j, w) : zero)
            const v16 dh = GC_DNAME(dec_load)(dhr + j, w), o = GC_Y(5), t = GC_Y(6), f = GC_Y(3);
            const v16 dt = GC_DY(6) + dh * o;
            const v16 dcs = GC_DNAME(dec_load)(dcnr + j, w) + dt * (1.0f - t * t);
            if (dgates) {
                const v16 i = GC_Y(2), g = GC_Y(4), cp = GC_DNAME(dec_load)(c + row * h + j, w);
                float *d = dgates + row * 4 * h + j;
                GC_DNAME(dec_store)(d, (GC_DY(2) + dcs * g) * (i * (1.0f - i)), w);
                GC_DNAME(dec_store)(d + h, (GC_DY(3) + dcs * cp) * (f * (1.0f - f)), w);
                GC_DNAME(dec_store)(d + 2 * h, (GC_DY(4) + dcs * i) * (1.0f - g * g), w);
                GC_DNAME(dec_store)(d + 3 * h, (GC_DY(5) + dh * t) * (o * (1.0f - o)), w);
            }
            if (dc) GC_DNAME(dec_store)(dc + row * h + j, dcs * f, w);
#undef GC_Y
#undef GC_DY
        }
    }
}

static void GC_DNAME(adam_update)(float *p, const float *g, float *m, float *v, long n, const gc_adam_constants *k) {
#pragma clang fp contract(off)
    const float b1 = k->beta1, b2 = k->beta2, eps = k->epsilon, wd = k->weight_decay;
    const float step = k->step_size, c2root = k->c2_root, clip = k->clip;
    const float ob1 = 1.0f - b1, ob2 = 1.0f - b2;
    for (long i = 0; i < n; i += 16) {
        const long w = n - i < 16 ? n - i : 16;
        v16 gv = GC_DNAME(dec_load)(g + i, w);
        if (k->has_clip) {
            // Swift's max(g, -clip) then min(_, clip): y >= x ? y : x, then y < x ? y : x (NaN stays).
            const v16 lo = SPLAT16(-clip), hi = SPLAT16(clip);
            gv = GC_SELECT(lo >= gv, lo, gv);
            gv = GC_SELECT(hi < gv, hi, gv);
        }
        v16 pv = GC_DNAME(dec_load)(p + i, w);
        const v16 gi = gv + wd * pv;
        const v16 mv = b1 * GC_DNAME(dec_load)(m + i, w) + ob1 * gi;
        const v16 vv = b2 * GC_DNAME(dec_load)(v + i, w) + ob2 * gi * gi;
        pv -= step * mv / (__builtin_elementwise_sqrt(vv) / c2root + eps);
        GC_DNAME(dec_store)(m + i, mv, w);
        GC_DNAME(dec_store)(v + i, vv, w);
        GC_DNAME(dec_store)(p + i, pv, w);
    }
}

/// log_softmax along the last axis for rows [begin, end) of x [*, n] into y, each row as
/// DecoderStepLoops.swift's logSoftmaxLastAxis computes it: m = the max in scan order (Swift's
/// max: a later element wins when it is >= the maximum so far, so a NaN counts only as the
/// first element), e = fastExp(x - m), the e summed in Double in index order, y = (x - m) -
/// Float(log(sum)). The max is taken over 16 lanes, which gives the same value (a set's
/// maximum; of equal zeros the sign may differ, and x - m then only by a zero's sign, which
/// fastExp and the result do not see unless the row has one element); the sums of 8 rows run
/// side by side, each in its own order, so their additions overlap. `scratch` holds 8 n floats.
static void GC_DNAME(log_softmax_rows)(const float *x, float *y, float *scratch, long n, long begin, long end) {
#pragma clang fp contract(off)
    for (long first = begin; first < end; first += 8) {
        const long rows = end - first < 8 ? end - first : 8;
        float maxima[8];
        double totals[8] = {0};
        for (long r = 0; r < rows; r++) {
            const float *xr = x + (first + r) * n;
            v16 lanes = SPLAT16(xr[0]);
            for (long k = 0; k < n; k += 16) {
                const long w = n - k < 16 ? n - k : 16;
                v16 v = lanes;   // a short block's missing lanes compare as the maxima so far
                __builtin_memcpy(&v, xr + k, (unsigned long)w * sizeof(float));
                lanes = GC_SELECT(v >= lanes, v, lanes);
            }
            float m = lanes[0];
            for (int j = 1; j < 16; j++) m = lanes[j] >= m ? lanes[j] : m;
            maxima[r] = m;
            const v16 mv = SPLAT16(m);
            for (long k = 0; k < n; k += 16) {
                const long w = n - k < 16 ? n - k : 16;
                GC_DNAME(dec_store)(scratch + r * n + k, GC_DNAME(dec_exp)(GC_DNAME(dec_load)(xr + k, w) - mv), w);
            }
        }
        for (long k = 0; k < n; k++) {
            for (long r = 0; r < rows; r++) totals[r] += (double)scratch[r * n + k];
        }
        for (long r = 0; r < rows; r++) {
            const float *xr = x + (first + r) * n;
            float *yr = y + (first + r) * n;
            const v16 mv = SPLAT16(maxima[r]), lt = SPLAT16((float)log(totals[r]));
            for (long k = 0; k < n; k += 16) {
                const long w = n - k < 16 ? n - k : 16;
                GC_DNAME(dec_store)(yr + k, (GC_DNAME(dec_load)(xr + k, w) - mv) - lt, w);
            }
        }
    }
}

/// Rows begin..<end of log_softmax_grad along the last axis, dx = dy - fastExp(y) * Σ dy,
/// with each row's Σ dy added in order in double (the general loop's bits), eight rows' sums
/// side by side instead of one addition chain per row (SoftmaxLoops.swift's
/// logSoftmaxGradLastAxis).
static void GC_DNAME(log_softmax_grad_rows)(const float *dy, const float *y, float *dx, long n, long begin, long end) {
#pragma clang fp contract(off)
    for (long first = begin; first < end; first += 8) {
        const long rows = end - first < 8 ? end - first : 8;
        double totals[8] = {0};
        const float *dyf = dy + first * n;
        for (long k = 0; k < n; k++) {
            for (long r = 0; r < rows; r++) totals[r] += (double)dyf[r * n + k];
        }
        for (long r = 0; r < rows; r++) {
            const float *dyr = dyf + r * n, *yr = y + (first + r) * n;
            float *dxr = dx + (first + r) * n;
            const v16 s = SPLAT16((float)totals[r]);
            for (long k = 0; k < n; k += 16) {
                const long w = n - k < 16 ? n - k : 16;
                GC_DNAME(dec_store)(dxr + k, GC_DNAME(dec_load)(dyr + k, w) - GC_DNAME(dec_exp)(GC_DNAME(dec_load)(yr + k, w)) * s, w);
            }
        }
    }
}

/// y = fastExp(x) * scale over n elements, lane by lane (the rows of log_softmax_nll_grad:
/// FusedLoops.swift's logSoftmaxNllBackward).
static void GC_DNAME(exp_scaled)(const float *x, float *y, long n, float scale) {
#pragma clang fp contract(off)
    const v16 s = SPLAT16(scale);
    for (long k = 0; k < n; k += 16) {
        const long w = n - k < 16 ? n - k : 16;
        GC_DNAME(dec_store)(y + k, GC_DNAME(dec_exp)(GC_DNAME(dec_load)(x + k, w)) * s, w);
    }
}
