// Thin products, y = a · op(b) for a few rows of a (a decoder step's batch) by a weight b read
// in place, in C for the same reason as conv_kernels.h: one binary carries AVX-512, AVX2+FMA
// and SSE2 code (chosen by gc_conv_isa()). Every output is one sum whose order depends on k
// and the instruction set only, never on the columns asked for, so any split of the columns
// over threads gives the same bits.
#ifndef GRAPHC_THIN_PRODUCT_KERNELS_H
#define GRAPHC_THIN_PRODUCT_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// Columns [begin, end) of y [m, n] = a [m, k] · op(b), all row-major: b is [k, n] when
/// trans_b is 0 (each column's sum runs over k in order) and [n, k] when it is 1 (each sum is
/// a dot product of two rows, in lane partials then a fixed tree). m, n > 0, k >= 0 (k = 0
/// gives zeros) and 0 <= begin <= end <= n.
void gc_thin_product(const float *a, const float *b, float *y, long m, long n, long k, int trans_b, long begin, long end);

/// As gc_thin_product with trans_b 0, a's rows lda apart (lda >= k): columns [begin, end) of
/// y [m, n] = a [m, k] · b [k, n]. A product over a slice of k (a's columns from a given one,
/// b's rows from the same) is one such call.
void gc_thin_product_strided(const float *a, long lda, const float *b, float *y, long m, long n, long k, long begin, long end);

#ifdef __cplusplus
}
#endif
#endif
