// Runtime dispatch over the compilations of thin_product_body.h (instantiate_isa.h:
// AVX-512F, AVX2+FMA, SSE2), by the instruction set gc_conv_isa() reports.
#include "thin_product_kernels.h"
#include "conv_kernels.h"

// The per-ISA helpers take and return no vectors across a call (all are inlined).
#pragma clang diagnostic ignored "-Wpsabi"

#define GC_ISA_BODY "thin_product_body.h"
#include "instantiate_isa.h"

void gc_thin_product(const float *a, const float *b, float *y, long m, long n, long k, int trans_b, long begin, long end) {
    GC_DISPATCH(thin_product, a, k, b, y, m, n, k, trans_b, begin, end)
}

void gc_thin_product_strided(const float *a, long lda, const float *b, float *y, long m, long n, long k, long begin, long end) {
    GC_DISPATCH(thin_product, a, lda, b, y, m, n, k, 0, begin, end)
}
