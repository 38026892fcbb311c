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
    switch (gc_conv_isa()) {
#ifdef GC_X86
        case 3: lstm_cell_forward_avx512(gates, c, out, rows, h); return;
        case 2: lstm_cell_forward_avx2(gates, c, out, rows, h); return;
#endif
        default: lstm_cell_forward_base(gates, c, out, rows, h); return;
    }
}

void gc_lstm_cell_backward(const float *y, const float *dy, const float *dh, const float *dcn, const float *c, float *dgates, float *dc,
                           long rows, long h) {
    switch (gc_conv_isa()) {
#ifdef GC_X86
        case 3: lstm_cell_backward_avx512(y, dy, dh, dcn, c, dgates, dc, rows, h); return;
        case 2: lstm_cell_backward_avx2(y, dy, dh, dcn, c, dgates, dc, rows, h); return;
#endif
        default: lstm_cell_backward_base(y, dy, dh, dcn, c, dgates, dc, rows, h); return;
    }
}

void gc_adam_update(float *p, const float *g, float *m, float *v, long n, const gc_adam_constants *constants) {
    switch (gc_conv_isa()) {
#ifdef GC_X86
        case 3: adam_update_avx512(p, g, m, v, n, constants); return;
        case 2: adam_update_avx2(p, g, m, v, n, constants); return;
#endif
        default: adam_update_base(p, g, m, v, n, constants); return;
    }
}

void gc_log_softmax_rows(const float *x, float *y, float *scratch, long n, long begin, long end) {
    switch (gc_conv_isa()) {
#ifdef GC_X86
        case 3: log_softmax_rows_avx512(x, y, scratch, n, begin, end); return;
        case 2: log_softmax_rows_avx2(x, y, scratch, n, begin, end); return;
#endif
        default: log_softmax_rows_base(x, y, scratch, n, begin, end); return;
    }
}

void gc_exp_scaled(const float *x, float *y, long n, float scale) {
    switch (gc_conv_isa()) {
#ifdef GC_X86
        case 3: exp_scaled_avx512(x, y, n, scale); return;
        case 2: exp_scaled_avx2(x, y, n, scale); return;
#endif
        default: exp_scaled_base(x, y, n, scale); return;
    }
}
