// Kernels of additive attention's score ops (GraphIR/Ops/AdditiveAttention.swift), in C for
// the same reason as conv_kernels.h: one binary carries AVX-512, AVX2+FMA and SSE2 code
// (chosen by gc_conv_isa()). Shapes: enc [B, N, A] as rows r = b * N + n of A floats, dec and
// the results per batch row [B, A], w [A], dy [B, N]. Each call covers rows [begin, end) (or
// batch rows, for the two that sum over the regions), so callers split the work; every
// result element is summed in one fixed order for a given instruction set.
#ifndef GRAPHC_ATTENTION_KERNELS_H
#define GRAPHC_ATTENTION_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// y[r] = Σ_a w[a] relu(enc[r, a] + dec[r / N, a]) for rows [begin, end).
void gc_additive_scores(const float *enc, const float *dec, const float *w, float *y, long regions, long width,
                        long begin, long end);

/// out[r, a] = dy[r] w[a] where enc[r, a] + dec[r / N, a] is not <= 0, else 0, plus acc[r, a]
/// when acc is not NULL (acc may be out itself), for rows [begin, end).
void gc_additive_scores_grad(const float *dy, const float *enc, const float *dec, const float *w, const float *acc,
                             float *out, long regions, long width, long begin, long end);

/// out[r, a] = Σ_s (dys[s][r] w[a] where enc[r, a] + decs[s][r / N, a] is not <= 0, else 0),
/// summed in step order s = 0, 1, ...: the same bits as gc_additive_scores_grad for step 0,
/// then again for each later step with acc the sum so far, for rows [begin, end).
void gc_additive_scores_grad_sum(const float *const *dys, const float *const *decs, long steps, const float *enc,
                                 const float *w, float *out, long regions, long width, long begin, long end);

/// dd[b, a] = w[a] Σ_n dy[b N + n] where enc[b N + n, a] + dec[b, a] is not <= 0, for batch
/// rows [begin, end), summing the regions in order.
void gc_additive_scores_dec_grad(const float *dy, const float *enc, const float *dec, const float *w, float *dd,
                                 long regions, long width, long begin, long end);

/// partials[b, a] = Σ_n dy[b N + n] relu(enc[b N + n, a] + dec[b, a]) for batch rows
/// [begin, end), summing the regions in order (the weight's gradient is their sum over b).
void gc_additive_scores_weight_partials(const float *dy, const float *enc, const float *dec, float *partials,
                                        long regions, long width, long begin, long end);

#ifdef __cplusplus
}
#endif
#endif
