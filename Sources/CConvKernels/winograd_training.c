// Runtime dispatch over the compilations of winograd_training_body.h (instantiate_isa.h:
// AVX-512F, AVX2+FMA, SSE2), by the instruction set gc_conv_isa() reports.
#include "winograd_training_kernels.h"
#include "conv_kernels.h"
#include "transpose16.h"

// The per-ISA helpers take and return no vectors across a call (all are inlined).
#pragma clang diagnostic ignored "-Wpsabi"

#define GC_ISA_BODY "winograd_training_body.h"
#include "instantiate_isa.h"

void gc_winograd_to_block(const float *x, float *y, long count, long plane) {
    GC_DISPATCH(winograd_to_block, x, y, count, plane)
}

void gc_winograd_from_block(const float *x, float *y, long count, long plane) {
    GC_DISPATCH(winograd_from_block, x, y, count, plane)
}
