// Runtime dispatch over the compilations of attention_kernels_body.h (instantiate_isa.h:
// AVX-512F, AVX2+FMA, SSE2), by the instruction set gc_conv_isa() reports.
#include "attention_kernels.h"
#include "conv_kernels.h"

// The per-ISA helpers take and return no vectors across a call (all are inlined).
#pragma clang diagnostic ignored "-Wpsabi"

#define GC_ISA_BODY "attention_kernels_body.h"
#include "instantiate_isa.h"

void gc_additive_scores(const float *enc, const float *dec, const float *w, float *y, long regions, long width,
                        long begin, long end) {
    GC_DISPATCH(additive_scores, enc, dec, w, y, regions, width, begin, end)
}

void gc_additive_scores_grad(const float *dy, const float *enc, const float *dec, const float *w, const float *acc,
                             float *out, long regions, long width, long begin, long end) {
    GC_DISPATCH(additive_scores_grad, dy, enc, dec, w, acc, out, regions, width, begin, end)
}

void gc_additive_scores_grad_sum(const float *const *dys, const float *const *decs, long steps, const float *enc,
                                 const float *w, float *out, long regions, long width, long begin, long end) {
    GC_DISPATCH(additive_scores_grad_sum, dys, decs, steps, enc, w, out, regions, width, begin, end)
}

void gc_additive_scores_dec_grad(const float *dy, const float *enc, const float *dec, const float *w, float *dd,
                                 long regions, long width, long begin, long end) {
    GC_DISPATCH(additive_scores_dec_grad, dy, enc, dec, w, dd, regions, width, begin, end)
}

void gc_additive_scores_weight_partials(const float *dy, const float *enc, const float *dec, float *partials,
                                        long regions, long width, long begin, long end) {
    GC_DISPATCH(additive_scores_weight_partials, dy, enc, dec, partials, regions, width, begin, end)
}
