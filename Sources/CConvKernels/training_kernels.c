// Runtime dispatch over the compilations of training_kernels_body.h (instantiate_isa.h:
// AVX-512F, AVX2+FMA, SSE2), by the instruction set gc_conv_isa() reports.
#include "training_kernels.h"
#include "conv_kernels.h"

// The per-ISA helpers take and return no vectors across a call (all are inlined).
#pragma clang diagnostic ignored "-Wpsabi"

typedef float gc_tv8 __attribute__((ext_vector_type(8)));
typedef float gc_tv16 __attribute__((ext_vector_type(16)));
typedef int gc_tv8i __attribute__((ext_vector_type(8)));
typedef int gc_tv4i __attribute__((ext_vector_type(4)));
typedef float gc_tv4 __attribute__((ext_vector_type(4)));
typedef float gc_tv2 __attribute__((ext_vector_type(2)));
typedef int gc_tv16i __attribute__((ext_vector_type(16)));

/// Lane orders of the pooling spans (training_kernels_body.h), by width: SWAP trades each lane
/// with its window partner in the row (0 with 1, 2 with 3, ...); PRIOR gives an odd lane its
/// even partner and an even lane the second vector's lane 0 (a zero); DUP spreads n / 2 values
/// over lane pairs; EVEN keeps the even lanes.
#define GC_SWAP16 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14
#define GC_SWAP8 1, 0, 3, 2, 5, 4, 7, 6
#define GC_SWAP4 1, 0, 3, 2
#define GC_PRIOR16 16, 0, 16, 2, 16, 4, 16, 6, 16, 8, 16, 10, 16, 12, 16, 14
#define GC_PRIOR8 8, 0, 8, 2, 8, 4, 8, 6
#define GC_PRIOR4 4, 0, 4, 2
#define GC_DUP16 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7
#define GC_DUP8 0, 0, 1, 1, 2, 2, 3, 3
#define GC_DUP4 0, 0, 1, 1
#define GC_EVEN16 0, 2, 4, 6, 8, 10, 12, 14
#define GC_EVEN8 0, 2, 4, 6
#define GC_EVEN4 0, 2

/// Whether any lane of a mask is set.
#define gc_any(mask) (__builtin_reduce_or(mask) != 0)

/// Window `oj` of a row pair by the scan: the first strict maximum, or the first NaN. The
/// scan is what the vector path must agree with; it also serves the last windows of a row.
static inline __attribute__((always_inline)) void gc_window_backward(const float *r0, const float *r1, float *d0,
                                                                     float *d1, const float *g, long oj, int relu) {
    const long j = 2 * oj;
    const float v[4] = {r0[j], r0[j + 1], r1[j], r1[j + 1]};
    int at = 0;
    if (v[0] == v[0]) {
        float best = v[0];
        for (int k = 1; k < 4; k++) {
            if (v[k] != v[k]) { at = k; break; }
            if (v[k] > best) { best = v[k]; at = k; }
        }
    }
    const float keep = relu && !(v[at] > 0) ? 0 : g[oj];
    d0[j] = at == 0 ? keep : 0;
    d0[j + 1] = at == 1 ? keep : 0;
    d1[j] = at == 2 ? keep : 0;
    d1[j + 1] = at == 3 ? keep : 0;
}

/// Window `oj` of a row pair, forward: the maximum as the vector path takes it, or NaN when a
/// value is NaN (the vector path's fallback and a row's last windows).
static inline __attribute__((always_inline)) float gc_window_forward(const float *r0, const float *r1, long oj) {
    const long j = 2 * oj;
    const float a = r0[j], b = r0[j + 1], c = r1[j], d = r1[j + 1];
    if (a != a || b != b || c != c || d != d) return __builtin_nanf("");
    const float ab = b >= a ? b : a, cd = d >= c ? d : c;
    return cd >= ab ? cd : ab;
}

#define GC_ISA_BODY "training_kernels_body.h"
#include "instantiate_isa.h"

void gc_maxpool2x2_backward(const float *x, const float *dy, float *dx, long height, long width, long out_height,
                            long out_width, int relu, long begin, long end) {
    GC_DISPATCH(maxpool2x2_backward, x, dy, dx, height, width, out_height, out_width, relu, begin, end)
}

void gc_maxpool2x2_forward(const float *x, float *y, long height, long width, long out_height, long out_width,
                           long begin, long end) {
    GC_DISPATCH(maxpool2x2_forward, x, y, height, width, out_height, out_width, begin, end)
}
