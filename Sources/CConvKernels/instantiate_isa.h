// Compiles one kernel body once per instruction set, for runtime dispatch: AVX-512F and
// AVX2+FMA (x86 only, each inside a `#pragma clang attribute` target region, so that the
// build never assumes more than the baseline) and the baseline every CPU has (SSE2 on
// x86-64). Include it after defining GC_ISA_BODY, the body's file name as a string:
//
//     #define GC_ISA_BODY "conv_kernels_body.h"
//     #include "instantiate_isa.h"
//
// For each compilation the body sees ISA (a name suffix: avx512, avx2, base), TILE_POSITIONS
// and TILE_BLOCKS (the register tile, output positions x 16-channel output blocks, sized to
// the ISA's register file: 24 + 2 of 32 registers on AVX-512, 12 + 2 of 16 on AVX2) and
// FMA(a, b, c), a + b * c with c a scalar (fused where the ISA has it), and FMAV(a, b, c), the
// same with c a vector. A file may include
// this more than once with different bodies; GC_ISA_BODY is undefined afterwards.
#ifndef GC_ISA_BODY
#error "define GC_ISA_BODY (the kernel body's file name) before including instantiate_isa.h"
#endif
#include "conv_vectors.h"

#define GC_AVX512_TILE_POSITIONS 12
#define GC_AVX512_TILE_BLOCKS 2
#define GC_AVX2_TILE_POSITIONS 6
#define GC_AVX2_TILE_BLOCKS 1
#define GC_BASE_TILE_POSITIONS 2
#define GC_BASE_TILE_BLOCKS 1

#ifdef GC_X86
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx2,fma"))), apply_to = function)
#define ISA avx512
#define TILE_POSITIONS GC_AVX512_TILE_POSITIONS
#define TILE_BLOCKS GC_AVX512_TILE_BLOCKS
#define FMA(a, b, c) __builtin_elementwise_fma((b), SPLAT16(c), (a))
#define FMAV(a, b, c) __builtin_elementwise_fma((b), (c), (a))
#include GC_ISA_BODY
#undef ISA
#undef TILE_POSITIONS
#undef TILE_BLOCKS
#undef FMA
#undef FMAV
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define ISA avx2
#define TILE_POSITIONS GC_AVX2_TILE_POSITIONS
#define TILE_BLOCKS GC_AVX2_TILE_BLOCKS
#define FMA(a, b, c) __builtin_elementwise_fma((b), SPLAT16(c), (a))
#define FMAV(a, b, c) __builtin_elementwise_fma((b), (c), (a))
#include GC_ISA_BODY
#undef ISA
#undef TILE_POSITIONS
#undef TILE_BLOCKS
#undef FMA
#undef FMAV
#pragma clang attribute pop
#endif

// The baseline: multiply and add, as SSE2 has no fused multiply-add.
#define ISA base
#define TILE_POSITIONS GC_BASE_TILE_POSITIONS
#define TILE_BLOCKS GC_BASE_TILE_BLOCKS
#define FMA(a, b, c) ((a) + (b) * (c))
#define FMAV(a, b, c) ((a) + (b) * (c))
#include GC_ISA_BODY
#undef ISA
#undef TILE_POSITIONS
#undef TILE_BLOCKS
#undef FMA
#undef FMAV

#undef GC_ISA_BODY

// GC_DISPATCH(name, args...), in a function returning void: calls name_avx512, name_avx2 or
// name_base with args, by the instruction set gc_conv_isa() reports (declared in
// conv_kernels.h), and returns.
#ifndef GC_DISPATCH
#ifdef GC_X86
#define GC_DISPATCH(name, ...)                                        \
    switch (gc_conv_isa()) {                                          \
        case 3: name##_avx512(__VA_ARGS__); return;                   \
        case 2: name##_avx2(__VA_ARGS__); return;                     \
        default: name##_base(__VA_ARGS__); return;                    \
    }
#else
#define GC_DISPATCH(name, ...) name##_base(__VA_ARGS__); return;
#endif
#endif
