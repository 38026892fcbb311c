// Runtime dispatch over the compilations of decoder_kernels_body.h (instantiate_isa.h:
// AVX-512F, AVX2+FMA, SSE2), by the instruction set gc_conv_isa() reports.
#include "decoder_kernels.h"
#include "conv_kernels.h"
#include <math.h>

// The per-ISA helpers are all inlined: no vector crosses a call.
#pragma clang diagnostic ignored "-Wpsabi"

typedef unsigned u16v __attribute__((vector_size(64)));

/// a where the lane's mask is set, else b (GNU vectors have no `?:` in C).
#define GC_SELECT(mask, a, b) ({ const i16v m_ = (mask); (v16)((m_ & (i16v)(a)) | (~m_ & (i16v)(b))); })

#define GC_ISA_BODY "decoder_kernels_body.h"
#include "instantiate_isa.h"

void gc_lstm_cell_forward(const float *gates, const float *c, float *out, long rows, long h) {
    GC_DISPATCH(lstm_cell_forward, gates, c, out, rows, h)
}

void gc_lstm_cell_backward(const float *y, const float *dy, const float *dh, const float *dcn, const float *c, float *dgates, float *dc,
                           long rows, long h) {
    GC_DISPATCH(lstm_cell_backward, y, dy, dh, dcn, c, dgates, dc, rows, h)
}

void gc_adam_update(float *p, const float *g, float *m, float *v, long n, const gc_adam_constants *constants) {
    GC_DISPATCH(adam_update, p, g, m, v, n, constants)
}

void gc_log_softmax_rows(const float *x, float *y, float *scratch, long n, long begin, long end) {
    GC_DISPATCH(log_softmax_rows, x, y, scratch, n, begin, end)
}

void gc_log_softmax_grad_rows(const float *dy, const float *y, float *dx, long n, long begin, long end) {
    GC_DISPATCH(log_softmax_grad_rows, dy, y, dx, n, begin, end)
}

void gc_exp_scaled(const float *x, float *y, long n, float scale) {
    GC_DISPATCH(exp_scaled, x, y, n, scale)
}
